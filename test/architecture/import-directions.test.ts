// The import directions docs/ARCHITECTURE.md §6 draws, checked on every import of every file in src/, workers/ and
// bin/: static imports and re-exports (type-only ones told apart), import() and the `new URL('./x.ts',
// import.meta.url)` a thread or a child process is started from. Each allowed exception is listed with its reason.
// When this test fails, either the import goes the wrong way, or §6 and the tables below change together.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/legate-process.ts';

type EdgeKind = 'value' | 'type' | 'dynamic' | 'spawn';

interface Edge {
  /** Repository-relative paths, e.g. src/router/route-match.ts. */
  from: string;
  to: string;
  kind: EdgeKind;
  line: number;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listFiles(rel));
    else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/**
 * The text with comments and template literals blanked (newlines kept, so offsets still give line numbers): what
 * is left of string literals are ordinary quotes, as every import specifier is. The repository's TypeScript (7) has
 * no JS parser API, and this needs none: a template that writes a file with imports (`legate filter new`) is blanked.
 */
function codeOnly(text: string): string {
  const out = text.split('');
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      i = j + 1;
    } else if (c === '`') {
      // Nested `${`…`}` templates are rare; a template ends at the next unescaped backtick.
      let j = i + 1;
      while (j < text.length && text[j] !== '`') j += text[j] === '\\' ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
    } else if (c === '/' && /[=(,:!&|?{};]\s*$/.test(text.slice(Math.max(0, i - 20), i))) {
      // A regular expression literal: skip it whole (it may hold quotes).
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j += text[j] === '\\' ? 2 : 1;
      }
      blank(i, j + 1);
      i = j + 1;
    } else {
      i++;
    }
  }
  return out.join('');
}

const STATIC_IMPORT = /(?<![\w.$])(import|export)\s+(type\s+)?((?:[\w$*{}\s,]|\bas\b)*?)\s*from\s*(['"])([^'"]+)\4/g;
const SIDE_EFFECT_IMPORT = /(?<![\w.$])import\s*(['"])([^'"]+)\1/g;
const DYNAMIC_IMPORT = /(?<![\w.$])import\(\s*(['"])([^'"]+)\1\s*\)(\s*\.\s*[A-Z])?/g;
const SPAWN_URL = /\bnew\s+URL\(\s*(['"])([^'"]+\.ts)\1\s*,\s*import\.meta\.url\s*\)/g;

/** Every import of one TypeScript file that names a file of this repository (relative specifiers). */
function importsOf(rel: string): Edge[] {
  return importsOfText(rel, fs.readFileSync(path.join(ROOT, rel), 'utf8'));
}

function importsOfText(rel: string, text: string): Edge[] {
  const code = codeOnly(text);
  const lineAt = (offset: number): number => code.slice(0, offset).split('\n').length;
  const edges: Edge[] = [];
  const add = (spec: string, kind: EdgeKind, offset: number): void => {
    if (!spec.startsWith('.')) return;
    const to = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, rel)), spec));
    edges.push({ from: rel, to, kind, line: lineAt(offset) });
  };
  for (const m of code.matchAll(STATIC_IMPORT)) {
    const clause = m[3]!.trim();
    // `import type {…}` or `import { type A, type B }`: erased, nothing loads at run time.
    const braces = /^\{([^}]*)\}$/.exec(clause);
    const names = braces === null ? [] : braces[1]!.split(',').map((n) => n.trim()).filter((n) => n !== '');
    const typeOnly = m[2] !== undefined || (names.length > 0 && names.every((n) => n.startsWith('type ')));
    add(m[5]!, typeOnly ? 'type' : 'value', m.index);
  }
  for (const m of code.matchAll(SIDE_EFFECT_IMPORT)) add(m[2]!, 'value', m.index);
  // `import('./x.ts').Type` in a type position loads nothing.
  for (const m of code.matchAll(DYNAMIC_IMPORT)) add(m[2]!, m[3] === undefined ? 'dynamic' : 'type', m.index);
  for (const m of code.matchAll(SPAWN_URL)) add(m[2]!, 'spawn', m.index);
  return edges;
}

/** bin/ holds shell launchers: the .ts files they run. */
function binEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const name of fs.readdirSync(path.join(ROOT, 'bin'))) {
    const rel = `bin/${name}`;
    if (/\.(ts|mts)$/.test(name)) {
      edges.push(...importsOf(rel));
      continue;
    }
    fs.readFileSync(path.join(ROOT, rel), 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/(?:\$root|\$\{root\})\/((?:src|workers)\/[\w./-]+\.ts)/g)) edges.push({ from: rel, to: m[1]!, kind: 'spawn', line: i + 1 });
    });
  }
  return edges;
}

const FILES = [...listFiles('src'), ...listFiles('workers')];
const EDGES: Edge[] = [...FILES.flatMap(importsOf), ...binEdges()];

/** src/<package> for src/<package>/…; `workers` for everything under workers/; `bin`. */
function packageOf(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : rel.replace(/\.ts$/, '');
  return parts[0]!;
}

const at = (e: Edge): string => `${e.from}:${e.line} ${e.kind === 'value' ? 'imports' : e.kind === 'type' ? 'imports types of' : e.kind === 'dynamic' ? 'import()s' : 'starts'} ${e.to}`;

function report(violations: string[], rule: string): void {
  assert.deepEqual(violations, [], `${rule}:\n  ${violations.join('\n  ')}`);
}

test('the parser sees the imports (a sanity check of the checker itself)', () => {
  assert.ok(FILES.length > 100, `files: ${FILES.length}`);
  const has = (from: string, to: string, kind: EdgeKind): boolean => EDGES.some((e) => e.from === from && e.to === to && e.kind === kind);
  assert.ok(has('src/primary/worker-supervisor.ts', 'workers/worker-main.ts', 'spawn'));
  assert.ok(has('bin/legate', 'src/cli/main.ts', 'spawn'));
  assert.ok(EDGES.some((e) => e.from.startsWith('src/cli/') && e.to.startsWith('src/primary/') && e.kind === 'dynamic'));
  assert.ok(EDGES.some((e) => e.kind === 'type') && EDGES.some((e) => e.kind === 'value'));
  // What the scanner tells apart: comments, templates and regular expressions hold no import; type-only imports
  // (`import type`, every name `type`), re-exports, import() (a type position `import('x').T` is a type) and a thread
  // entry `new URL('x.ts', import.meta.url)`.
  const sample = [
    "import { a } from './v1.ts';",
    "import type { T } from './t1.ts';",
    "import { type A, type B } from './t2.ts';",
    "import {\n  type A,\n  b,\n} from './v2.ts';",
    "export { x } from './v3.ts';",
    "export type { Y } from './t3.ts';",
    "import './v4.ts';",
    "// import { c } from './no1.ts';",
    "/* import d from './no2.ts'; */",
    "const tpl = `import { e } from './no3.ts';`;",
    "const re = /import x from 'no4'/;",
    "const m = await import('./d1.ts');",
    "let t: import('./t4.ts').Type;",
    "new Worker(new URL('./s1.ts', import.meta.url));",
  ].join('\n');
  const got = importsOfText('src/x/sample.ts', sample).map((e) => `${e.to.replace(/^src\/x\//, '')} ${e.kind}`).sort();
  assert.deepEqual(got, [
    'd1.ts dynamic', 's1.ts spawn', 't1.ts type', 't2.ts type', 't3.ts type', 't4.ts type', 'v1.ts value', 'v2.ts value', 'v3.ts value', 'v4.ts value',
  ]);
  for (const e of EDGES) {
    const file = fs.existsSync(path.join(ROOT, e.to));
    assert.ok(file, `${at(e)}: no such file`);
  }
});

/**
 * Allowed exceptions to "src/ never imports workers/", each with its reason (§6).
 * src/filter-api is the worker-side API user filters import: it re-exports workers/http/filters/http-filter.ts.
 */
const SRC_TO_WORKERS_ALLOWED: readonly { from: RegExp; to: RegExp; kinds: readonly EdgeKind[]; reason: string }[] = [
  { from: /^src\/filter-api\//, to: /^workers\/http\/filters\/http-filter\.ts$/, kinds: ['value', 'type'], reason: 'the public filter API re-exports the filter interface' },
  { from: /^src\/primary\/worker-supervisor\.ts$/, to: /^workers\/worker-main\.ts$/, kinds: ['spawn'], reason: 'the primary starts each worker thread from its entry point' },
];

test('src/ never imports workers/ (the two documented exceptions aside)', () => {
  const violations = EDGES
    .filter((e) => e.from.startsWith('src/') && e.to.startsWith('workers/'))
    .filter((e) => !SRC_TO_WORKERS_ALLOWED.some((a) => a.from.test(e.from) && a.to.test(e.to) && a.kinds.includes(e.kind)))
    .map(at);
  report(violations, 'src/ imports workers/ (§6: src/* never imports workers/*)');
});

/** The primary's packages: a worker never loads them (config is validated and compiled once, on the primary). */
const PRIMARY_ONLY = ['src/primary', 'src/admin', 'src/cli', 'src/xds', 'src/bench-tools', 'src/config-loader'];

test('workers/ never imports the primary\'s packages (primary, admin, cli, xds, bench-tools, config-loader)', () => {
  const violations = EDGES
    .filter((e) => e.from.startsWith('workers/') && PRIMARY_ONLY.includes(packageOf(e.to)))
    .map(at);
  report(violations, 'workers/ imports a primary-only package');
});

test('src/cli loads src/primary and src/filters only through import(), so `legate bench` stands alone; only bin/ runs src/cli', () => {
  const lazy = EDGES
    .filter((e) => packageOf(e.from) === 'src/cli' && ['src/primary', 'src/filters'].includes(packageOf(e.to)) && e.kind === 'value')
    .map(at);
  report(lazy, 'src/cli imports src/primary or src/filters statically');
  const intoCli = EDGES
    .filter((e) => packageOf(e.to) === 'src/cli' && packageOf(e.from) !== 'src/cli' && e.from !== 'bin/legate' && e.kind !== 'type')
    .map(at);
  report(intoCli, 'something other than bin/ loads src/cli');
});

/**
 * Who may load (value, import() or start) each primary-side package; anyone may import its types.
 * src/xds/merge-resources.ts is pure and runs in the config pipeline, which src/primary/compile-task.ts runs too.
 */
const LOADED_ONLY_BY: Readonly<Record<string, readonly string[]>> = {
  'src/primary': ['src/cli'],
  'src/admin': ['src/primary'],
  'src/xds': ['src/primary'],
};

test('src/primary is loaded only by src/cli; src/admin and src/xds only by src/primary (others import their types)', () => {
  const violations = EDGES
    .filter((e) => e.kind !== 'type')
    .filter((e) => {
      const to = packageOf(e.to);
      const from = packageOf(e.from);
      const allowed = LOADED_ONLY_BY[to];
      return allowed !== undefined && from !== to && !allowed.includes(from);
    })
    .map(at);
  report(violations, 'a primary-side package loaded from elsewhere');
});

/**
 * The arrows between src/ packages (§6): the packages each one may load. Type-only imports are free between src/
 * packages (erased), except into workers/ (above). A package missing here is not checked by this test; add its line
 * to §6 and here.
 */
const SRC_ARROWS: Readonly<Record<string, readonly string[]>> = {
  'src/cli': ['src/common', 'src/bench-tools', 'src/primary', 'src/filters'],
  'src/primary': [
    'src/admin', 'src/xds', 'src/stats', 'src/upstream', 'src/snapshot', 'src/config-loader', 'src/tls', 'src/overload',
    'src/messages', 'src/access-log', 'src/common', 'src/tracing',
  ],
  'src/admin': ['src/stats', 'src/config-loader', 'src/router', 'src/http', 'src/common'],
  'src/xds': ['src/config-loader', 'src/tls', 'src/stats', 'src/common'],
  'src/snapshot': [
    'src/config-loader', 'src/filters', 'src/router', 'src/access-log', 'src/tls', 'src/upstream', 'src/overload', 'src/stats',
    'src/tracing',
  ],
  'src/config-loader': ['src/tls'],
  'src/upstream': ['src/snapshot', 'src/tls', 'src/common', 'src/router'],
  'src/tls': ['src/router', 'src/config-loader', 'src/common'],
  'src/filters': [
    'src/router', 'src/access-log', 'src/http', 'src/config-loader', 'src/overload', 'src/snapshot', 'src/filter-api',
    'src/common',
  ],
  'src/filter-api': ['src/http'],
  'src/router': ['src/access-log', 'src/http', 'src/common'],
  'src/access-log': ['src/router', 'src/http', 'src/common'],
  'src/stats': ['src/router'],
  'src/overload': ['src/common'],
  'src/http': ['src/http1'],
  'src/http1': [],
  'src/http2': [],
  'src/messages': [],
  'src/common': [],
  'src/grpc': [],
  'src/tracing': [],
  'src/bench-tools': ['src/common'],
};

test('the arrows between src/ packages are the ones §6 draws', () => {
  const violations = EDGES
    .filter((e) => e.kind !== 'type' && e.from.startsWith('src/') && e.to.startsWith('src/'))
    .filter((e) => {
      const from = packageOf(e.from);
      const to = packageOf(e.to);
      const allowed = SRC_ARROWS[from];
      return from !== to && allowed !== undefined && SRC_ARROWS[to] !== undefined && !allowed.includes(to);
    })
    .map(at);
  report(violations, 'an import between src/ packages that §6 does not draw (fix the import, or §6 and SRC_ARROWS together)');
});

test('src/ packages §6 does not draw yet (reported, not failed: new packages land while others work)', (t) => {
  const packages = new Set(FILES.filter((f) => f.startsWith('src/')).map(packageOf));
  const missing = [...packages].filter((p) => SRC_ARROWS[p] === undefined && LOADED_ONLY_BY[p] === undefined && !p.endsWith('.ts')).sort();
  if (missing.length > 0) t.diagnostic(`not in §6 / SRC_ARROWS yet: ${missing.join(', ')}`);
});

/**
 * The pure modules (§6): no thread-specific code (the primary's packages or workers/) in anything they load,
 * followed through every value import. (src/common/logger.ts reads worker_threads' threadId: it runs in any thread.)
 */
const PURE_ROOTS = [/^src\/http\//, /^src\/http1\//, /^src\/http2\//, /^src\/router\//, /^src\/filters\//, /^src\/stats\/definitions\.ts$/, /^src\/xds\/merge-resources\.ts$/];

function threadSpecific(rel: string): boolean {
  if (rel.startsWith('workers/')) return true;
  if (rel === 'src/xds/merge-resources.ts') return false;
  return ['src/primary', 'src/admin', 'src/cli', 'src/xds'].includes(packageOf(rel));
}

test('pure modules load nothing thread-specific (primary, admin, cli, xds, workers/), transitively', () => {
  const byFrom = new Map<string, Edge[]>();
  for (const e of EDGES) {
    if (e.kind !== 'value') continue;
    let list = byFrom.get(e.from);
    if (list === undefined) byFrom.set(e.from, list = []);
    list.push(e);
  }
  const violations: string[] = [];
  for (const root of FILES.filter((f) => PURE_ROOTS.some((re) => re.test(f)))) {
    // Breadth first, keeping the path that reached each file so a violation names the chain.
    const via = new Map<string, string[]>([[root, [root]]]);
    const queue = [root];
    while (queue.length > 0) {
      const file = queue.shift()!;
      const chain = via.get(file)!;
      if (threadSpecific(file)) {
        violations.push(chain.join(' -> '));
        continue;
      }
      for (const e of byFrom.get(file) ?? []) {
        if (via.has(e.to)) continue;
        via.set(e.to, [...chain, e.to]);
        queue.push(e.to);
      }
    }
  }
  report([...new Set(violations)], 'a pure module loads thread-specific code');
});
