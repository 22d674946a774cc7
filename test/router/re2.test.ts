// RE2 -> JavaScript: accepted RE2 syntax matches as RE2 would (full match), constructs RE2 lacks are rejected
// with a message, and RE2 rewrite strings become replace() replacements.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileRe2, literalPrefixOf, translateRe2, translateRe2Substitution } from '../../src/router/re2.ts';

/** [RE2 pattern, strings it fully matches, strings it does not] */
const accepted: [string, string[], string[]][] = [
  ['/users/[0-9]+', ['/users/1', '/users/123'], ['/users/', '/users/1a', 'x/users/1']],
  ['a|b', ['a', 'b'], ['ab', '']],
  ['(?i)abc', ['ABC', 'aBc'], ['abd']],
  ['(?i)a|b', ['A', 'B'], ['c']], // the flag covers every alternative of the group
  ['x(?i:ab)y', ['xABy'], ['XABy']],
  ['((?i)ab)c', ['ABc'], ['ABC']],
  ['(?s).+', ['a\nb'], []],
  ['.+', ['ab'], ['a\nb']],
  ['(?P<id>[0-9]+)-(?<name>[a-z]+)', ['12-ab'], ['12-']],
  ['\\Aab\\z', ['ab'], ['abc']],
  ['\\Qa.b*\\E+', ['a.b*', 'a.b**'], ['axb']],
  ['\\x41\\x{42}\\x{1F600}', ['AB\u{1F600}'], ['AB']],
  ['\\pL+\\p{Greek}\\PN', ['abcαx'], ['abcα1']],
  ['\\p{^Greek}', ['a'], ['α']],
  ['[[:alpha:]]+[[:digit:]]', ['ab1'], ['ab']],
  ['[^[:space:]]+', ['abc'], ['a b']],
  ['\\s', [' ', '\t', '\n'], ['\v', '\u00a0']], // RE2's \s is [\t\n\f\r ]
  ['\\S', ['\v'], [' ']],
  ['[\\s]', ['\r'], ['\v']],
  ['[]a]', [']', 'a'], ['b']], // a leading ] is a literal
  ['[^]a]', ['b'], [']']],
  ['a{2,3}', ['aa', 'aaa'], ['a', 'aaaa']],
  ['a{,3}', ['a{,3}'], ['aaa']], // not a repetition in RE2: literal
  ['x{1000}', ['x'.repeat(1000)], []],
  ['a]b}c', ['a]b}c'], []],
  ['\\.\\-\\/\\:\\"', ['.-/:"'], []],
  ['[a\\-z]', ['-', 'a', 'z'], ['b']],
  ['\\101\\a', ['A\x07'], []], // RE2 octal: up to three digits
  ['\\0101', ['\x081'], ['A']],
  ['\\12', ['\n'], []],
  ['\\d\\w\\D\\W\\b', [], ['1a_!']], // \b needs a word character after the ! to be a boundary
  ['\\d\\w\\D\\W', ['1a_!'], ['1a_a']],
];

test('accepted RE2 patterns match like RE2 (whole string)', () => {
  for (const [pattern, yes, no] of accepted) {
    const re = compileRe2(pattern);
    assert.ok(typeof re !== 'string', `${pattern}: ${re as string}`);
    for (const s of yes) assert.ok(re.full.test(s), `${pattern} should match ${JSON.stringify(s)}`);
    for (const s of no) assert.ok(!re.full.test(s), `${pattern} should not match ${JSON.stringify(s)}`);
  }
});

test('capture groups are counted', () => {
  const groups = (p: string) => {
    const t = translateRe2(p);
    return t.ok ? t.groups : -1;
  };
  assert.equal(groups('^/service/([^/]+)(/.*)$'), 2);
  assert.equal(groups('(?:a)(?i:b)(?P<n>c)(d)'), 2);
  assert.equal(groups('\\(x\\)[(]'), 0);
});

/** [RE2-invalid or unsupported pattern, message fragment] */
const rejected: [string, string][] = [
  ['(a)\\1', 'backreferences like \\1 are not supported by RE2'],
  ['a(?=b)', 'lookahead and lookbehind'],
  ['a(?!b)', 'lookahead and lookbehind'],
  ['(?<=a)b', 'lookahead and lookbehind'],
  ['(?<!a)b', 'lookahead and lookbehind'],
  ['(?P<n>a)(?P=n)', 'backreferences and recursion'],
  ['(?#comment)a', 'comment groups'],
  ['(?U)a+', 'the U (ungreedy) flag is not supported'],
  ['a(?i)b', 'only supported at the start of the pattern or of a group'],
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
  ['[[:^alpha:]]', 'negated POSIX classes'],
  ['\\p{Klingon}', 'unknown Unicode class'],
  ['[\\b]', 'not allowed inside a character class'],
  ['a\\', 'trailing backslash'],
  ['*a', 'does not compile'],
  ['a**', 'does not compile'],
  ['\\x{110000}', 'beyond the last Unicode code point'],
  ['\\xZ1', 'invalid \\x escape'],
];

test('RE2-invalid and unsupported patterns are rejected with a reason', () => {
  for (const [pattern, fragment] of rejected) {
    const t = translateRe2(pattern);
    assert.ok(!t.ok, `${pattern} should be rejected`);
    assert.ok(t.error.includes(fragment), `${pattern}: "${t.error}" lacks "${fragment}"`);
  }
});

test('rewrite substitutions', () => {
  const cases: [sub: string, groups: number, replacement: string][] = [
    ['\\2/instance/\\1', 2, '$02/instance/$01'],
    ['\\0\\0', 0, '$&$&'],
    ['cost: $5 \\\\ done', 0, 'cost: $$5 \\ done'],
    ['\\1' + '2', 1, '$012'],
    ['', 0, ''],
  ];
  for (const [sub, groups, replacement] of cases) assert.deepEqual(translateRe2Substitution(sub, groups), { ok: true, replacement }, sub);
  const re = compileRe2('(a)(b)');
  assert.ok(typeof re !== 'string');
  assert.equal('xaby'.replace(re.search, (translateRe2Substitution('[\\2\\1]\\1' + '0', 2) as { replacement: string }).replacement), 'x[ba]a0y');
  for (const [sub, groups, fragment] of [['\\3', 2, 'refers to group \\3 but the pattern has 2 capture groups'], ['\\n', 1, 'invalid rewrite'], ['a\\', 0, 'invalid rewrite']] as const) {
    const t = translateRe2Substitution(sub, groups);
    assert.ok(!t.ok && t.error.includes(fragment), `${sub}: ${JSON.stringify(t)}`);
  }
});

test('the search form replaces every match, as RE2::GlobalReplace', () => {
  const re = compileRe2('o');
  assert.ok(typeof re !== 'string');
  assert.equal('/foo/boo'.replace(re.search, '0'), '/f00/b00');
  assert.equal('/foo/boo'.replace(re.search, '0'), '/f00/b00'); // reusable: replace() resets lastIndex
});

test('the literal every match starts with (tested before the regex runs)', () => {
  const cases: [string, string][] = [
    ['^/users/[0-9]+/orders-1$', '/users/'], ['/users/[0-9]+', '/users/'], ['/static/.*', '/static/'], ['/ab?c', '/a'],
    ['/ab*', '/a'], ['/ab+', '/ab'], ['/ab{2}', '/a'], ['/a|/b', ''], ['(?i)/abc', ''], ['/a(?i:b)', ''], ['\\d+', ''],
    ['[/]x', ''], ['/x\\.y', '/x'], ['', ''], ['^', ''],
  ];
  for (const [pattern, literal] of cases) assert.equal(literalPrefixOf(pattern), literal, pattern);
});
