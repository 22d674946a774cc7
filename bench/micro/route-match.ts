// Micro bench: ns per RouteTable.route() over the ~50-route "realistic" table the benchmark harness runs (the
// catch-all is route 50, the worst case for a linear table), an early prefix hit, a regex hit, a header-matched
// hit, and the whole per-request route work (route + rewritePath + request and response header mutations).
// Run: node_modules/.bin/node bench/micro/route-match.ts

import { buildRouteTable } from '../../src/router/route-table.ts';
import { compileHeaderValueFormat } from '../../src/access-log/formatter.ts';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { legateBootstrap } from '../harness/configs/legate-bootstrap.ts';

type Obj = Record<string, unknown>;

const bootstrap = legateBootstrap({ port: 0, adminPort: 0, upstreamPort: 0, profile: 'realistic', accessLogPath: '' });
const listener = ((bootstrap['static_resources'] as Obj)['listeners'] as Obj[])[0]!;
const hcm = (((listener['filter_chains'] as Obj[])[0]!['filters'] as Obj[])[0]!['typed_config'] as Obj);
const routeConfig = hcm['route_config'] as Obj;
const table = buildRouteTable(routeConfig, { compileHeaderValue: compileHeaderValueFormat });
const routeCount = ((routeConfig['virtual_hosts'] as Obj[])[0]!['routes'] as unknown[]).length;

function headers(...extra: string[]): string[] {
  return [
    'host', 'bench.example:10000', 'user-agent', 'autocannon/9', 'accept', '*/*', 'x-forwarded-for', '127.0.0.1',
    'x-forwarded-proto', 'http', 'x-request-id', '6f1c0a4e-8d4b-4c5e-9a57-3b1f2e9c7d10', ...extra,
  ];
}

function bench(name: string, iterations: number, fn: (i: number) => unknown): void {
  let sink = 0;
  for (let i = 0; i < 500_000; i++) sink += fn(i) === null ? 1 : 0; // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn(i) === null ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(56)} ${ns.toFixed(1).padStart(8)} ns/op${sink === -1 ? ' ' : ''}`);
}

const N = 5_000_000;
const plain = headers();
const tenant = headers('x-tenant', 'tenant-3');
console.log(`${routeCount} routes in one virtual host (domains: *)`);
bench(`route(): catch-all, route ${routeCount} (worst case)`, N, () => table.route('bench.example:10000', 'GET', '/index.html?v=1', plain));
bench('route(): prefix hit, route 4', N, () => table.route('bench.example:10000', 'GET', '/api/v1/service-3/items?x=1', plain));
bench('route(): regex hit, route 43', N, () => table.route('bench.example:10000', 'GET', '/users/12345/orders-4?page=2', plain));
bench('route(): prefix + header hit, route 48', N, () => table.route('bench.example:10000', 'GET', '/tenant/x', tenant));

const info = new StreamInfo();
const reqHeaders = headers('x-debug', '1');
const respHeaders = ['content-type', 'text/plain', 'content-length', '2', 'x-internal-debug', '1'];
info.requestHeaders = reqHeaders;
info.responseHeaders = respHeaders;
bench('per request: route + rewritePath + request/response mutations', N, () => {
  const r = table.route('bench.example:10000', 'GET', '/index.html', reqHeaders)!;
  r.applyRequestHeaderMutations(reqHeaders, info);
  r.rewritePath('/index.html');
  r.applyResponseHeaderMutations(respHeaders, info);
  return r;
});
