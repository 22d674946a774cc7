// RE2 patterns on linear-time engines: accepted RE2 syntax matches as RE2 would (full match) on V8's linear
// engine and on re2js alike, each pattern gets the engine that takes it, what RE2 rejects is rejected with a
// reason, Envoy's program-size limit holds, rewrites follow RE2::GlobalReplace, and pathological patterns on long
// inputs answer (no backtracking).

import test from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { RE2JS } from 're2js';
import {
  LINEAR_ENGINE_AVAILABLE, Re2Engine, Re2Regex, Re2Rewrite, compileRe2, compileRe2Rewrite, literalPrefixOf, literalSuffixOf, parseRe2Substitution,
  translateRe2,
} from '../../src/router/re2.ts';

function compiled(pattern: string, engine: 'auto' | 're2js' = 'auto'): Re2Regex {
  const re = compileRe2(pattern, undefined, engine);
  assert.ok(re instanceof Re2Regex, `${pattern}: ${re as string}`);
  return re;
}

function rewriter(pattern: string, substitution: string, engine: 'auto' | 're2js' = 'auto'): Re2Rewrite {
  const rw = compileRe2Rewrite(pattern, substitution, undefined, engine);
  assert.ok(rw instanceof Re2Rewrite, `${pattern}: ${JSON.stringify(rw)}`);
  return rw;
}

test("V8's linear engine is available on the pinned Node", () => {
  assert.equal(LINEAR_ENGINE_AVAILABLE, true);
});

/** [RE2 pattern, strings it fully matches, strings it does not] */
const accepted: [string, string[], string[]][] = [
  ['/users/[0-9]+', ['/users/1', '/users/123'], ['/users/', '/users/1a', 'x/users/1']],
  ['a|b', ['a', 'b'], ['ab', '']],
  ['(?i)abc', ['ABC', 'aBc'], ['abd']],
  ['(?i)a|b', ['A', 'B'], ['c']], // the flag covers every alternative of the group
  ['x(?i:ab)y', ['xABy'], ['XABy']],
  ['((?i)ab)c', ['ABc'], ['ABC']],
  ['a(?i)b|c', ['aB', 'C'], ['AB']], // flags in mid-group run to its end, across |
  ['(?i)k[s-t]', ['KS', 'k\u017f', '\u212at'], ['kx']], // RE2's case folding: K and ſ
  ['(?i)[^a-z]', ['1', '-'], ['A', 'z', '\u212a']],
  ['(?i)[[:upper:]]x', ['ax', 'BX'], ['1x']],
  ['(?i)\\x41', ['a', 'A'], ['b']],
  ['(?s).+', ['a\nb'], []],
  ['.+', ['ab', 'a\rb'], ['a\nb']], // RE2's . is anything but \n
  ['(?P<id>[0-9]+)-(?<name>[a-z]+)', ['12-ab'], ['12-']],
  ['\\Aab\\z', ['ab'], ['abc']],
  ['(?m)^a$\\n^b\\z', ['a\nb'], ['a\nb\n']],
  ['\\Qa.b*\\E+', ['a.b*', 'a.b**'], ['axb']],
  ['\\x41\\x{42}\\x{1F600}', ['AB\u{1F600}'], ['AB']],
  ['\u{1F600}+', ['\u{1F600}\u{1F600}'], ['\u{1F600}\ude00']], // a repetition repeats the whole character
  ['\\pL+\\p{Greek}\\PN', ['abcαx'], ['abcα1']],
  ['\\p{^Greek}', ['a'], ['α']],
  ['[[:alpha:]]+[[:digit:]]', ['ab1'], ['ab']],
  ['[^[:space:]]+', ['abc'], ['a b']],
  ['[[:^alpha:]]', ['1'], ['a']],
  ['\\s', [' ', '\t', '\n'], ['\v', '\u00a0']], // RE2's \s is [\t\n\f\r ]
  ['\\S', ['\v'], [' ']],
  ['[\\s]', ['\r'], ['\v']],
  ['[\\S]', ['\v', 'a'], [' ']],
  ['[]a]', [']', 'a'], ['b']], // a leading ] is a literal
  ['[^]a]', ['b'], [']']],
  ['[a-b-c]', ['-', 'c'], ['d']], // a - that cannot start a range is a literal
  ['a{2,3}', ['aa', 'aaa'], ['a', 'aaaa']],
  ['a{,3}', ['a{,3}'], ['aaa']], // not a repetition in RE2: literal
  ['x{1000}', ['x'.repeat(1000)], ['x'.repeat(999)]],
  ['[0-9a-f]{32}', ['0123456789abcdef0123456789abcdef'], ['0123456789abcdef0123456789abcde']],
  ['(?:ab){2,}c', ['ababc', 'abababc'], ['abc']],
  ['a{2,4}?a', ['aaa', 'aaaaa'], ['aa']],
  ['a]b}c', ['a]b}c'], []],
  ['\\.\\-\\/\\:\\"', ['.-/:"'], []],
  ['[a\\-z]', ['-', 'a', 'z'], ['b']],
  ['\\101\\a', ['A\x07'], []], // RE2 octal: up to three digits
  ['\\0101', ['\x081'], ['A']],
  ['\\12', ['\n'], []],
  ['\\d\\w\\D\\W\\b', [], ['1a_!']], // \b needs a word character after the ! to be a boundary
  ['\\d\\w\\D\\W', ['1a_!'], ['1a_a']],
  ['(?U)a+', ['aaa'], ['b']],
  ['/api/([a-z]+/?)*', ['/api/a/b/', '/api/'], ['/api/a!']],
];

test('accepted RE2 patterns match like RE2 (whole string), on either engine', () => {
  for (const [pattern, yes, no] of accepted) {
    for (const engine of ['auto', 're2js'] as const) {
      const re = compileRe2(pattern, { maxProgramSize: 2000, configured: true }, engine);
      assert.ok(re instanceof Re2Regex, `${pattern}: ${re as string}`);
      for (const s of yes) assert.ok(re.fullMatch(s), `${pattern} (${re.engine}) should match ${JSON.stringify(s)}`);
      for (const s of no) assert.ok(!re.fullMatch(s), `${pattern} (${re.engine}) should not match ${JSON.stringify(s)}`);
    }
  }
});

test("each pattern runs on V8's linear engine when it takes it, else on re2js", () => {
  const cases: [string, string][] = [
    ['/users/[0-9]+/orders-[0-9]+', Re2Engine.V8_LINEAR],
    ['^application/grpc([+;].*)?$', Re2Engine.V8_LINEAR],
    ['(?i)/api/[a-z0-9]+', Re2Engine.V8_LINEAR], // (?i) spelled as case classes
    ['/orders/[0-9a-f]{8}-[0-9a-f]{32}', Re2Engine.V8_LINEAR], // spelled-out repetition (V8 refuses x{17})
    ['(?s)/a/.*', Re2Engine.V8_LINEAR],
    ['\\p{Greek}+', Re2Engine.RE2JS], // needs the u flag
    ['(?U)a+', Re2Engine.RE2JS],
    ['[[:^alpha:]]', Re2Engine.RE2JS],
    ['(?i)straße', Re2Engine.RE2JS], // non-ASCII case folding
  ];
  for (const [pattern, engine] of cases) assert.equal(compiled(pattern).engine, engine, pattern);
  // A rewrite keeps its groups; a repeated one goes to re2js (JavaScript would clear it at each iteration).
  assert.equal(rewriter('^/(?:a|b){20}/(.*)$', '\\1').engine, Re2Engine.V8_LINEAR);
  assert.equal(rewriter('^/(a|b){2}/(.*)$', '\\2').engine, Re2Engine.RE2JS);
  assert.equal(rewriter('^/(a|b)+/(.*)$', '\\2').engine, Re2Engine.RE2JS);
});

/** A small deterministic PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test('V8 translations agree with re2js (RE2 semantics) on random inputs, match and rewrite', () => {
  const patterns = [
    '(?i)ab[c-e]+', '(?i)[^x-z]k', 'a.b', '(?s)a.b', '[a-c]{2,4}b?', '(a|ab)(c|bcd)(d*)', '(?i:a)b(?-i:c)', '\\bab\\B',
    'x*y+?z{0,2}', '(?m)^b$', '\\Ab|c\\z', '[[:punct:]]+[[:alnum:]]', '\\d\\s\\w', '(?:a|b){3}', 'a{2}b{1,3}?c*?', '^a|b$',
    '(a)?(b)', '((a)|(b))c', '(?i)(k)(s?)', '(?s)(.)(.)$',
  ];
  const alphabet = 'aAbBcCdDkKsSxyz1-_ \n!';
  const rand = prng(9);
  for (const pattern of patterns) {
    const linear = compiled(pattern);
    assert.equal(linear.engine, Re2Engine.V8_LINEAR, pattern);
    const reference = RE2JS.compile(pattern);
    let sub = '<\\0';
    for (let g = 1; g <= linear.groups; g++) sub += `|\\${g}`;
    sub += '>';
    const rwLinear = rewriter(pattern, sub);
    const rwRe2js = rewriter(pattern, sub, 're2js');
    assert.equal(rwLinear.engine, Re2Engine.V8_LINEAR, pattern);
    for (let k = 0; k < 400; k++) {
      let s = '';
      const n = Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      assert.equal(linear.fullMatch(s), reference.matches(s), `${pattern} on ${JSON.stringify(s)}`);
      assert.equal(rwLinear.replaceAll(s), rwRe2js.replaceAll(s), `rewrite ${pattern} on ${JSON.stringify(s)}`);
    }
  }
});

test('capture groups are counted', () => {
  const groups = (p: string) => compiled(p).groups;
  assert.equal(groups('^/service/([^/]+)(/.*)$'), 2);
  assert.equal(groups('(?:a)(?i:b)(?P<n>c)(d)'), 2);
  assert.equal(groups('\\(x\\)[(]'), 0);
});

/** [RE2-invalid pattern, message fragment] */
const rejected: [string, string][] = [
  ['(a)\\1', 'backreferences like \\1 are not supported by RE2'],
  ['a(?=b)', 'lookahead and lookbehind'],
  ['a(?!b)', 'lookahead and lookbehind'],
  ['(?<=a)b', 'lookahead and lookbehind'],
  ['(?<!a)b', 'lookahead and lookbehind'],
  ['(?P<n>a)(?P=n)', 'backreferences and recursion'],
  ['(?#comment)a', 'comment groups'],
  ['(?x)a', "unknown inline flag 'x'"],
  ['\\u0041', 'invalid escape sequence \\u'],
  ['\\cA', 'invalid escape sequence \\c'],
  ['\\k<n>', 'invalid escape sequence \\k'],
  ['\\Z', 'invalid escape sequence \\Z'],
  ['\\C', '\\C (any byte)'],
  ['a{1001}', 'RE2 allows at most 1000'],
  ['a{3,2}', 'max is below min'],
  ['(a', 'missing )'],
  ['a)', 'unmatched parenthesis'],
  ['[a', 'missing ]'],
  ['[[:foo:]]', 'unknown POSIX class [:foo:]'],
  ['\\p{Klingon}', 'unknown Unicode class'],
  ['[\\b]', 'not allowed inside a character class'],
  ['a\\', 'trailing backslash'],
  ['*a', 'does not compile'],
  ['a**', 'does not compile'],
  ['\\x{110000}', 'beyond the last Unicode code point'],
  ['\\xZ1', 'invalid \\x escape'],
  ['[z-a]', 'invalid character class range'],
];

test('RE2-invalid patterns are rejected with a reason', () => {
  for (const [pattern, fragment] of rejected) {
    const re = compileRe2(pattern);
    assert.equal(typeof re, 'string', `${pattern} should be rejected`);
    assert.ok((re as string).startsWith('invalid RE2 regex: '), `${pattern}: ${re as string}`);
    assert.ok((re as string).includes(fragment), `${pattern}: "${re as string}" lacks "${fragment}"`);
  }
});

test("program size: Envoy's default limit of 100, and google_re2.max_program_size", () => {
  // Envoy's own test patterns: one /asdf/.* fits, thirteen do not.
  const one = '/asdf/.*';
  const thirteen = one.repeat(13);
  assert.ok(compileRe2(one) instanceof Re2Regex);
  const err = compileRe2(thirteen);
  assert.equal(typeof err, 'string');
  assert.match(err as string, /RE2 program size of \d+ > max program size of 100 set for the error level threshold/);
  assert.ok(compileRe2(thirteen, { maxProgramSize: 1000, configured: true }) instanceof Re2Regex);
  const explicit = compileRe2(one, { maxProgramSize: 1, configured: true });
  assert.match(explicit as string, /RE2 program size of \d+ > max program size of 1\. Increase configured max program size/);
  // The measure: a ^-anchored literal prefix is matched outside the program, as in RE2.
  assert.ok(compileRe2(`^/${'a'.repeat(150)}/[0-9]+$`) instanceof Re2Regex);
  assert.equal(typeof compileRe2(`/${'a'.repeat(150)}/[0-9]+`), 'string');
  const rw = compileRe2Rewrite(thirteen, '');
  assert.ok(!(rw instanceof Re2Rewrite) && rw.field === 'pattern' && rw.error.includes('program size'));
});

test('rewrite substitutions: \\0..\\9 and \\\\', () => {
  assert.deepEqual(parseRe2Substitution('\\2/instance/\\1', 2), { ok: true, literals: ['', '/instance/', ''], refs: [2, 1] });
  assert.deepEqual(parseRe2Substitution('cost: $5 \\\\ done', 0), { ok: true, literals: ['cost: $5 \\ done'], refs: [] });
  assert.deepEqual(parseRe2Substitution('', 0), { ok: true, literals: [''], refs: [] });
  for (const [sub, groups, fragment] of [['\\3', 2, 'refers to group \\3 but the pattern has 2 capture groups'], ['\\n', 1, 'invalid rewrite'], ['a\\', 0, 'invalid rewrite']] as const) {
    const t = parseRe2Substitution(sub, groups);
    assert.ok(!t.ok && t.error.includes(fragment), `${sub}: ${JSON.stringify(t)}`);
  }
  const bad = compileRe2Rewrite('(a)', '\\2');
  assert.ok(!(bad instanceof Re2Rewrite) && bad.field === 'substitution');
});

test('replaceAll is RE2::GlobalReplace, on either engine', () => {
  const cases: [pattern: string, sub: string, input: string, output: string][] = [
    ['(a)(b)', '[\\2\\1]\\1' + '0', 'xaby', 'x[ba]a0y'],
    ['o', '0', '/foo/boo', '/f00/b00'],
    ['a*', '-', 'baaac', '-b-c-'], // no empty match right after a match (JavaScript's replace gives -b--c-)
    ['x*', '-', 'abc', '-a-b-c-'],
    ['', '-', '\u{1F600}', '-\u{1F600}-'], // steps over whole characters
    ['^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api', '/v1/api/instance/foo'],
    ['(b)|(c)', '[\\1\\2]', 'abcd', 'a[b][c]d'], // a group that did not take part is empty
    ['zzz', 'y', 'abc', 'abc'],
    ['$x', 'cost: $1 \\\\', 'x', 'x'],
    ['\\pL', '.', 'aé1', '..1'], // re2js only
    ['(?:(a)|b)+', '[\\1]', 'ab', '[a]'], // a group keeps its last value across iterations (JavaScript clears it)
    ['((a)|b){2}', '[\\1\\2]', 'ab', '[ba]'],
  ];
  for (const [pattern, sub, input, output] of cases) {
    for (const engine of ['auto', 're2js'] as const) {
      const rw = rewriter(pattern, sub, engine);
      assert.equal(rw.replaceAll(input), output, `${pattern} -> ${sub} on ${input} (${rw.engine})`);
      assert.equal(rw.replaceAll(input), output, 'reusable');
    }
  }
});

test('pathological patterns answer on long inputs (linear time on both engines)', async () => {
  // In a thread the test can stop: a backtracking engine would keep it busy for minutes (synchronously).
  const worker = new Worker(new URL('./fixtures/re2-pathological-thread.ts', import.meta.url));
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    once(worker, 'message').then(([m]) => m as string[]),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still matching after 30 s'), 30_000);
    }),
  ]);
  clearTimeout(timer);
  await worker.terminate();
  assert.deepEqual(outcome, []);
});

test('translation errors name what has no JavaScript spelling (those patterns run on re2js)', () => {
  const t = translateRe2('(?U)a+');
  assert.ok(!t.ok && t.error.includes('U (ungreedy)'));
  const groups = translateRe2('(a)(?:b)(?P<n>c)', false);
  assert.ok(groups.ok && !groups.source.includes('(a)') && groups.groups === 2);
});

test('the literal every match starts with (tested before the regex runs)', () => {
  const cases: [string, string][] = [
    ['^/users/[0-9]+/orders-1$', '/users/'], ['/users/[0-9]+', '/users/'], ['/static/.*', '/static/'], ['/ab?c', '/a'],
    ['/ab*', '/a'], ['/ab+', '/ab'], ['/ab{2}', '/a'], ['/a|/b', ''], ['(?i)/abc', ''], ['/a(?i:b)', ''], ['\\d+', ''],
    ['[/]x', ''], ['/x\\.y', '/x'], ['', ''], ['^', ''],
  ];
  for (const [pattern, literal] of cases) assert.equal(literalPrefixOf(pattern), literal, pattern);
  const ends: [string, string][] = [
    ['^/users/[0-9]+/orders-1$', '/orders-1'], ['/static/.*\\.css', '.css'], ['/ab*', ''], ['abc*d', 'd'], ['ab?', ''],
    ['/x\\d', ''], ['\\x41b', 'b'], ['\\x{41}bc', 'bc'], ['\\101c', 'c'], ['\\p{Greek}yz', 'yz'], ['[]a]y', 'y'],
    ['[[:alpha:]]q', 'q'], ['a{2}bc', 'bc'], ['a{,3}', ''], ['a\\$', 'a$'], ['(?i)abc', ''], ['a|bc', ''], ['x\\Qa.b', ''],
    ['^application/grpc([+;].*)?$', ''],
  ];
  for (const [pattern, literal] of ends) assert.equal(literalSuffixOf(pattern), literal, pattern);
  const re = compiled('^/users/[0-9]+/orders-1$');
  assert.deepEqual([re.prefix, re.suffix], ['/users/', '/orders-1']);
});
