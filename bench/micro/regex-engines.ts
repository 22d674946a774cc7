// Micro bench: ns per whole-value match of typical route/header regexes on each engine src/router/re2.ts can
// choose: V8's linear engine (what compileRe2 picks when V8 takes the pattern, with its literal prefix/suffix
// checks), the same without those checks, re2js, and V8's backtracking engine (the old, unsafe default; for
// reference only). Each row alternates a matching and a missing input. Also one pathological input per engine.
// Run: node_modules/.bin/node bench/micro/regex-engines.ts

import { Re2Regex, compileRe2, translateRe2 } from '../../src/router/re2.ts';

/** [pattern, an input it matches, an input it misses] */
const CASES: [string, string, string][] = [
  ['^/users/[0-9]+/orders-4$', '/users/12345/orders-4', '/users/12345/orders-3'],
  ['/api/v[0-9]+/.*', '/api/v1/service-3/items/abc', '/apx/v1/service-3/items'],
  ['^application/grpc([+;].*)?$', 'application/grpc+proto', 'application/json'],
  ['/static/.*\\.(css|js|png|svg|woff2?)', '/static/app/build/main.2f3a.css', '/static/app/build/main.2f3a.html'],
  ['/orders/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '/orders/123e4567-e89b-12d3-a456-426614174000', '/orders/123e4567-e89b-12d3-a456-42661417400z'],
  ['(?i)/api/[a-z0-9]+', '/API/Users42', '/api/users-42'],
  ['\\p{L}+[0-9]*', 'straße42', 'straße-42'],
];

function compiled(pattern: string, engine: 'auto' | 're2js'): Re2Regex {
  const re = compileRe2(pattern, undefined, engine);
  if (typeof re === 'string') throw new Error(re);
  return re;
}

function bench(name: string, iterations: number, fn: (i: number) => boolean): void {
  let sink = 0;
  for (let i = 0; i < Math.min(iterations, 100_000); i++) sink += fn(i) ? 1 : 0; // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn(i) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`  ${name.padEnd(40)} ${ns.toFixed(1).padStart(9)} ns/op${sink === -1 ? ' ' : ''}`);
}

for (const [pattern, yes, no] of CASES) {
  const inputs = [yes, no];
  const chosen = compiled(pattern, 'auto');
  const re2js = compiled(pattern, 're2js');
  console.log(`${pattern}  (program size ${chosen.programSize}, runs on ${chosen.engine})`);
  bench(`chosen: ${chosen.engine}`, 500_000, (i) => chosen.fullMatch(inputs[i & 1]!));
  const t = translateRe2(pattern, false);
  if (t.ok && !t.flags.includes('u')) {
    const bare = new RegExp(`^(?:${t.source})$`, 'l');
    bench('v8-linear without literal checks', 500_000, (i) => bare.test(inputs[i & 1]!));
  }
  bench('re2js', 50_000, (i) => re2js.fullMatch(inputs[i & 1]!));
  if (t.ok) {
    const backtracking = new RegExp(`^(?:${t.source})$`, t.flags);
    bench('v8 backtracking (unsafe, reference)', 2_000_000, (i) => backtracking.test(inputs[i & 1]!));
  }
}

// The finding: a 40-byte path, and the same with 4 KiB.
for (const n of [34, 4096]) {
  const evil = `/api/${'a'.repeat(n)}!`;
  console.log(`/api/([a-z]+/?)* on /api/ + ${n} x 'a' + '!' (a backtracking engine: minutes at 34)`);
  for (const engine of ['auto', 're2js'] as const) {
    const re = compiled('/api/([a-z]+/?)*', engine);
    bench(re.engine, n > 100 ? 200 : 5_000, () => re.fullMatch(evil));
  }
}
