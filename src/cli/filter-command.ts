// Main thread. `legate filter new NAME [--dir DIR] [--force]`: writes a TypeScript filter to start from (NAME.ts)
// and its test (NAME.test.ts, node:test against src/filter-api/testing.ts), importing Legate's filter API by a
// path relative to DIR. docs/FILTERS.md says what to do next.

import fs from 'node:fs';
import path from 'node:path';

const USAGE = `Usage: legate filter new NAME [--dir DIR] [--force]

Writes DIR/NAME.ts, an HTTP filter written in TypeScript (docs/FILTERS.md), and DIR/NAME.test.ts, its test
(run it with: node --test DIR/NAME.test.ts). NAME: lower-case letters, digits and '-'. DIR: the current
directory by default. Existing files are kept unless --force is given.
`;

const NAME = /^[a-z][a-z0-9-]*$/;
const API_DIR = path.resolve(import.meta.dirname, '../filter-api');

/** An import specifier for `target` from a file in `fromDir` (always ./ or ../, forward slashes). */
function specifier(fromDir: string, target: string): string {
  const rel = path.relative(fromDir, target).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function className(name: string): string {
  return `${name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')}Filter`;
}

function filterSource(name: string, api: string): string {
  const cls = className(name);
  return `// ${name}: an HTTP filter for Legate, written in TypeScript (docs/FILTERS.md). Use it in a config with:
//   - name: ${name.replaceAll('-', '_')}
//     typed_config:
//       "@type": type.googleapis.com/legate.filters.http.typescript.v1.TypeScriptFilter
//       filter_path: ${name}.ts        # relative to the config file's directory
//       config: { header: x-${name}, value: hello }
// Node runs it as it is (erasable TypeScript only: no enum, namespace or parameter properties). To type-check it
// with tsc, its directory's package.json needs "type": "module".

import {
  defineFilter, FilterDataStatus, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks,
} from '${api}';

interface ${cls}Config {
  header?: string;
  value?: string;
}

export default defineFilter<${cls}Config>({
  // Stats of this filter: http.<stat_prefix>.typescript_filter.<name>.<stat>.
  stats: { counters: ['requests'] },

  // Once per config version and worker: read the config here, never per request.
  create(config, context) {
    const header = config.header ?? 'x-${name}';
    const value = config.value ?? 'hello';
    const requests = context.counter('requests');

    class ${cls} extends PassThroughFilter {
      private readonly cb: UserFilterCallbacks;
      constructor(cb: UserFilterCallbacks) {
        super();
        this.cb = cb;
      }

      // The request's headers, in http_filters order. Return Continue, or StopIteration and later
      // this.cb.continueDecoding() / this.cb.respond(...).
      override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
        requests.inc();
        this.cb.headers(headers).set(header, value);
        return FilterHeadersStatus.Continue;
      }

      // Each piece of the request body as it arrives.
      override decodeData(_data: Buffer, _endStream: boolean): number {
        return FilterDataStatus.Continue;
      }

      // The response's headers, in reverse http_filters order.
      override encodeHeaders(headers: HeaderList, _endStream: boolean): number {
        this.cb.headers(headers).set(header, value);
        return FilterHeadersStatus.Continue;
      }
    }
    return { createFilter: (cb) => new ${cls}(cb) };
  },
});
`;
}

function testSource(name: string, testing: string): string {
  return `// The test of ${name}.ts: node --test ${name}.test.ts. For the whole path (through bin/legate with a real upstream)
// see Legate's test/e2e/typescript-filter.test.ts.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestStream } from '${testing}';
import definition from './${name}.ts';

it('adds the header to the request and the response', () => {
  const t = createTestStream(definition, { config: { header: 'x-test', value: 'yes' } });
  const request = [':method', 'GET', ':path', '/', 'host', 'example.com'];
  assert.equal(t.filter.decodeHeaders(request, true), 0 /* Continue */);
  assert.equal(t.callbacks.headers(request).get('x-test'), 'yes');
  const response = [':status', '200'];
  t.filter.encodeHeaders(response, true);
  assert.equal(t.callbacks.headers(response).get('x-test'), 'yes');
  assert.equal(t.stats.get('requests'), 1);
  assert.equal(t.localReply, null);
});
`;
}

export function runFilterCommand(argv: string[]): number {
  if (argv[0] !== 'new' || argv.includes('--help') || argv.includes('-h')) {
    process.stderr.write(USAGE);
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  let name: string | undefined;
  let dir = process.cwd();
  let force = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--dir') {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write(`legate filter: --dir needs a directory\n${USAGE}`);
        return 2;
      }
      dir = path.resolve(v);
    } else if (a === '--force') {
      force = true;
    } else if (name === undefined && !a.startsWith('-')) {
      name = a;
    } else {
      process.stderr.write(`legate filter: unexpected '${a}'\n${USAGE}`);
      return 2;
    }
  }
  if (name === undefined || !NAME.test(name)) {
    process.stderr.write(`legate filter: NAME must be lower-case letters, digits and '-' (got '${name ?? ''}')\n${USAGE}`);
    return 2;
  }
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    [path.join(dir, `${name}.ts`), filterSource(name, specifier(dir, path.join(API_DIR, 'index.ts')))],
    [path.join(dir, `${name}.test.ts`), testSource(name, specifier(dir, path.join(API_DIR, 'testing.ts')))],
  ];
  for (const [file] of files) {
    if (!force && fs.existsSync(file)) {
      process.stderr.write(`legate filter: ${file} exists (--force to overwrite)\n`);
      return 1;
    }
  }
  for (const [file, text] of files) {
    fs.writeFileSync(file, text);
    process.stdout.write(`wrote ${file}\n`);
  }
  return 0;
}
