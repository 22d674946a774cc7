// End to end: HTTP filters written in TypeScript (legate.filters.http.typescript, docs/FILTERS.md) through
// bin/legate with real upstreams and clients. The example config (config/typescript-filters.yaml with
// config/filters/*.ts) runs as documented; generated filters cover containment (a throw, a rejected async call, a
// CPU budget), reloads (SIGHUP and --watch-filters) with a stream in flight, and config errors at file:line.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, LEGATE_BIN, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const API = path.join(ROOT, 'src/filter-api/index.ts');
const EXAMPLE = path.join(ROOT, 'config/typescript-filters.yaml');

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A backend whose held requests (/hold/<id>) answer only when the test releases them: no timing involved. */
class Backend {
  readonly server: http.Server;
  readonly seen: Seen[] = [];
  readonly held = new Map<string, http.ServerResponse>();
  /** /stream: the second part waits for this. */
  private releaseStream: (() => void) | null = null;
  streamWaiting: Promise<void> | null = null;
  port = 0;

  constructor(handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.seen.push({ url: req.url!, headers: req.headers });
        if (handler?.(req, res) === true) return;
        const url = req.url!;
        if (url.startsWith('/hold/')) {
          this.held.set(url.slice(6), res);
          return;
        }
        if (url.endsWith('/stream')) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first part;');
          this.streamWaiting = new Promise<void>((r) => {
            this.releaseStream = r;
          }).then(() => {
            res.end('second part');
          });
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'backend' });
        res.end(`hello from backend ${url}`);
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  release(id: string, body: string): void {
    const res = this.held.get(id)!;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  }

  finishStream(): void {
    this.releaseStream?.();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A GET with node:http; resolves with the status, headers and body once the response ended. */
function get(url: string, headers: Record<string, string> = {}, onChunk?: (s: string) => void): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        onChunk?.(body);
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', (e) => resolve({ status: res.statusCode!, headers: res.headers, body, error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode!, headers: res.headers, body, error: 'aborted' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: '', error: e.message }));
  });
}

function validate(configPath: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(LEGATE_BIN, ['--mode', 'validate', '-c', configPath], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1, out: stdout + stderr });
    });
  });
}

/** An HCM listener whose http_filters are `filters` (YAML list entries at 10-space indent) then the router. */
function listenerWith(port: number, filters: string, routes = `              - match: { prefix: "/" }\n                route: { cluster: backend }\n`): string {
  return `  - name: ingress
    address:
      socket_address: { address: 127.0.0.1, port_value: ${port} }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ts
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes}          http_filters:
${filters}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
}

function tsFilter(name: string, file: string, extra = ''): string {
  return `          - name: ${name}
            typed_config:
              "@type": type.googleapis.com/legate.filters.http.typescript.v1.TypeScriptFilter
              filter_path: ${file}
${extra}`;
}

describe('TypeScript filters: the example config (config/typescript-filters.yaml)', () => {
  let legate: LegateProcess;
  let backend: Backend;
  let authz: Backend;
  let base: string;

  before(async () => {
    backend = await new Backend().listen();
    authz = await new Backend((req, res) => {
      if (!req.url!.startsWith('/check')) return false;
      const ok = req.headers['x-user'] === 'alice';
      res.writeHead(ok ? 200 : 403, ok ? { 'x-auth-user': 'alice@example' } : {});
      res.end();
      return true;
    }).listen();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replace('port_value: 10000', `port_value: ${port}`)
      .replace('port_value: 9901', 'port_value: 0')
      .replace('port_value: 8080', `port_value: ${backend.port}`)
      .replace('port_value: 8081', `port_value: ${authz.port}`)
      .replaceAll('filter_path: filters/', `filter_path: ${path.join(ROOT, 'config/filters')}/`);
    legate = await startLegate({ config: yaml, concurrency: 2 });
  });

  after(async () => {
    await legate?.stop();
    await backend?.close();
    await authz?.close();
  });

  it('auth-header: a valid token goes upstream with the token replaced by an identity header; responses get x-powered-by', async () => {
    const r = await curl(['-H', 'Authorization: Bearer other-token', `${base}/api/thing`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from backend /api/thing');
    assert.deepEqual(r.headers.get('x-powered-by'), ['legate-typescript']);
    assert.equal(r.headers.get('x-upstream'), undefined, 'the response-header filter removed it');
    const seen = backend.seen.at(-1)!;
    assert.equal(seen.headers['authorization'], undefined);
    assert.equal(seen.headers['x-auth-identity'], 'token-1');
  });

  it('auth-header: no or a wrong token is answered 401 by the filter (local reply through the encoders), never upstream', async () => {
    const before = backend.seen.length;
    const none = await curl([`${base}/api/thing`]);
    assert.equal(none.status, 401);
    assert.equal(none.body, 'missing or unknown bearer token');
    assert.deepEqual(none.headers.get('www-authenticate'), ['Bearer']);
    assert.deepEqual(none.headers.get('x-powered-by'), ['legate-typescript'], 'the local reply went through the response filter');
    const wrong = await curl(['-H', 'Authorization: Bearer nope', `${base}/api/thing`]);
    assert.equal(wrong.status, 401);
    assert.equal(backend.seen.length, before);
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.ingress_http.typescript_filter.auth.denied') ?? 0) >= 2);
    assert.ok((stats.get('http.ingress_http.typescript_filter.auth.allowed') ?? 0) >= 1);
    assert.equal(stats.get('http.ingress_http.typescript_filter.auth.exceptions'), 0);
    assert.ok((stats.get('http.ingress_http.typescript_filter.auth.cpu_time_us') ?? 0) > 0);
  });

  it('the same filters over HTTP/2 (h2c)', async () => {
    const ok = await curl(['--http2-prior-knowledge', '-H', 'Authorization: Bearer s3cret', `${base}/api/h2`]);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.headers.get('x-powered-by'), ['legate-typescript']);
    assert.equal(backend.seen.at(-1)!.headers['x-auth-identity'], 'token-0');
    const denied = await curl(['--http2-prior-knowledge', `${base}/api/h2`]);
    assert.equal(denied.status, 401);
  });

  it('per-route config: /public needs no token (TypeScriptFilterPerRoute { required: false })', async () => {
    const r = await curl([`${base}/public/x`]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello from backend /public/x');
  });

  it('body transform: /upper streams the body upper-cased, the first part reaching the client before the upstream sends the rest', async () => {
    const pending = get(`${base}/upper/stream`, {}, (sofar) => {
      if (sofar === 'FIRST PART;') backend.finishStream();
    });
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'FIRST PART;SECOND PART');
    assert.equal(r.headers['content-length'], undefined);
  });

  it('call-cluster: asks the authz cluster; allowed requests get its x-auth-user, others 403', async () => {
    const ok = await curl(['-H', 'x-user: alice', `${base}/checked/a`]);
    assert.equal(ok.status, 200);
    assert.equal(backend.seen.at(-1)!.headers['x-auth-user'], 'alice@example');
    const check = authz.seen.at(-1)!;
    assert.equal(check.url, '/check');
    assert.equal(check.headers['x-original-path'], '/checked/a');
    const before = backend.seen.length;
    const no = await curl(['-H', 'x-user: bob', `${base}/checked/b`]);
    assert.equal(no.status, 403);
    assert.equal(no.body, 'denied by the authorization service');
    assert.equal(backend.seen.length, before);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ingress_http.typescript_filter.authz.checks'), 2);
    assert.equal(stats.get('http.ingress_http.typescript_filter.authz.denied'), 1);
  });
});

describe('TypeScript filters: containment', () => {
  let legate: LegateProcess;
  let backend: Backend;
  let base: string;

  before(async () => {
    backend = await new Backend().listen();
    const dir = tempDir('legate-tsf-');
    fs.writeFileSync(path.join(dir, 'faulty.ts'), `
import { defineFilter, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks } from ${JSON.stringify(API)};
export default defineFilter({
  create() {
    return (cb: UserFilterCallbacks) => new (class extends PassThroughFilter {
      override decodeHeaders(headers: HeaderList): number {
        const h = cb.headers(headers);
        if (h.has('x-throw')) throw new Error('decodeHeaders failed on purpose');
        if (h.has('x-reject')) {
          cb.runAsync(async () => { await Promise.resolve(); throw new Error('async work failed on purpose'); });
          return FilterHeadersStatus.StopIteration;
        }
        if (h.has('x-spin')) { const t = performance.now(); while (performance.now() - t < 40) { /* spin */ } }
        return FilterHeadersStatus.Continue;
      }
      override encodeData(data: Buffer, endStream: boolean): number {
        if (cb.requestHeaders.includes('x-throw-body')) throw new Error('encodeData failed on purpose');
        return 0;
      }
    })();
  },
});
`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = bootstrap([listenerWith(port, tsFilter('faulty', 'faulty.ts', '              cpu_budget_ms: 10\n'))],
      [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: backend.port }] })]);
    fs.writeFileSync(path.join(dir, 'legate.yaml'), config);
    // The config names faulty.ts relative to its own directory: start from another working directory.
    legate = await startLegate({ config: config.replace('filter_path: faulty.ts', `filter_path: ${path.join(dir, 'faulty.ts')}`), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await backend?.close();
  });

  async function exceptions(): Promise<number> {
    return (await legate.statsMap()).get('http.ts.typescript_filter.faulty.exceptions') ?? -1;
  }

  it('a throw in decodeHeaders answers that stream 500, counts it, and other streams and the worker carry on', async () => {
    const before = await exceptions();
    const held = get(`${base}/hold/a`);
    await waitUntil(() => backend.held.has('a'), () => 'the held request upstream');
    const bad = await curl(['-H', 'x-throw: 1', `${base}/x`]);
    assert.equal(bad.status, 500);
    assert.equal(bad.body, 'typescript filter error');
    backend.release('a', 'held done');
    assert.equal((await held).body, 'held done', 'a stream in flight on the same worker was not disturbed');
    const ok = await curl([`${base}/y`]);
    assert.equal(ok.status, 200);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ts.typescript_filter.faulty.exceptions'), before + 1);
    assert.equal(stats.get('server.worker_restarts'), 0);
    assert.match(legate.stderr, /typescript filter 'faulty' .*decodeHeaders threw .*decodeHeaders failed on purpose/);
  });

  it('a rejected runAsync is contained the same way', async () => {
    const before = await exceptions();
    const r = await curl(['-H', 'x-reject: 1', `${base}/x`]);
    assert.equal(r.status, 500);
    assert.equal(await exceptions(), before + 1);
    assert.equal((await curl([`${base}/z`])).status, 200);
  });

  it('a throw once the response started resets the stream instead', async () => {
    const before = await exceptions();
    const r = await get(`${base}/stream`, { 'x-throw-body': '1' });
    backend.finishStream();
    assert.equal(r.status, 200, 'the head had gone out');
    assert.equal(r.error, 'aborted', `expected a reset, got ${JSON.stringify(r)}`);
    assert.notEqual(r.body, 'first part;second part');
    await waitUntil(async () => (await exceptions()) === before + 1, () => `exceptions = ${before + 1}`);
    assert.equal((await curl([`${base}/after`])).status, 200);
    assert.equal((await legate.statsMap()).get('server.worker_restarts'), 0);
  });

  it('a request over cpu_budget_ms is answered 503 and counted', async () => {
    const cpuBefore = (await legate.statsMap()).get('http.ts.typescript_filter.faulty.cpu_time_us') ?? 0;
    const r = await curl(['-H', 'x-spin: 1', `${base}/x`]);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'typescript filter over its CPU budget');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ts.typescript_filter.faulty.cpu_budget_exceeded'), 1);
    // The filter spun 40 ms by its own clock: at least that much is in the total.
    assert.ok((stats.get('http.ts.typescript_filter.faulty.cpu_time_us') ?? 0) - cpuBefore >= 40_000);
    assert.equal((await curl([`${base}/after-spin`])).status, 200);
  });
});

describe('TypeScript filters: reloads and config errors', () => {
  let backend: Backend;
  let dir: string;
  let port: number;
  const filterSource = (version: number): string => `
import { defineFilter, PassThroughFilter, type HeaderList, type UserFilterCallbacks } from ${JSON.stringify(API)};
export default defineFilter({
  create() {
    return (cb: UserFilterCallbacks) => new (class extends PassThroughFilter {
      override encodeHeaders(headers: HeaderList): number {
        cb.headers(headers).set('x-filter-version', '${version}');
        return 0;
      }
    })();
  },
});
`;

  before(async () => {
    backend = await new Backend().listen();
    dir = tempDir('legate-tsf-reload-');
    port = await freePort();
  });

  after(async () => {
    await backend?.close();
  });

  function configFor(file: string): string {
    return bootstrap([listenerWith(port, tsFilter('versioned', file))], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: backend.port }] })]);
  }

  it('SIGHUP picks up a changed filter file; a stream in flight finishes on the filter it started with', async () => {
    const file = path.join(dir, 'versioned.ts');
    fs.writeFileSync(file, filterSource(1));
    const legate = await startLegate({ config: configFor(file), concurrency: 1 });
    try {
      assert.deepEqual((await curl([`${base()}/a`])).headers.get('x-filter-version'), ['1']);
      const inFlight = get(`${base()}/hold/r1`);
      await waitUntil(() => backend.held.has('r1'), () => 'the held request upstream');
      fs.writeFileSync(file, filterSource(2));
      assert.equal(await legate.reload(), true);
      assert.deepEqual((await curl([`${base()}/b`])).headers.get('x-filter-version'), ['2']);
      backend.release('r1', 'old stream done');
      const old = await inFlight;
      assert.equal(old.body, 'old stream done');
      assert.equal(old.headers['x-filter-version'], '1');
      // A broken file makes the reload fail with file:line; version 2 keeps serving.
      fs.writeFileSync(file, 'export default {\n  create() {\n    return (;\n  },\n};\n');
      assert.equal(await legate.reload(), false);
      assert.match(legate.stderr, new RegExp(`${file.replaceAll('/', '\\/')}:3:\\d+: SyntaxError`));
      assert.deepEqual((await curl([`${base()}/c`])).headers.get('x-filter-version'), ['2']);
    } finally {
      await legate.stop();
    }
  });

  it('--watch-filters: a change to the file alone reloads', async () => {
    const file = path.join(dir, 'watched.ts');
    fs.writeFileSync(file, filterSource(1));
    const legate = await startLegate({ config: configFor(file), concurrency: 1, args: ['--watch-filters'] });
    try {
      assert.deepEqual((await curl([`${base()}/a`])).headers.get('x-filter-version'), ['1']);
      const from = legate.stderr.length;
      fs.writeFileSync(file, filterSource(3));
      await legate.waitForLog(/reloaded: config version/, 30_000, from);
      assert.deepEqual((await curl([`${base()}/b`])).headers.get('x-filter-version'), ['3']);
    } finally {
      await legate.stop();
    }
  });

  it('a filter with a syntax error, a missing file or no definition is a config error with its place', async () => {
    const bad = path.join(dir, 'syntax.ts');
    fs.writeFileSync(bad, 'const a: number = 1;\nexport default function create() {\n  return a +;\n}\n');
    fs.writeFileSync(path.join(dir, 'syntax.yaml'), configFor('syntax.ts'));
    const r1 = await validate(path.join(dir, 'syntax.yaml'));
    assert.notEqual(r1.code, 0);
    assert.match(r1.out, new RegExp(`filter module ${bad.replaceAll('/', '\\/')}:3:\\d+: SyntaxError`));
    assert.match(r1.out, /syntax\.yaml:\d+:\d+: .*http_filters\[0\]\.typed_config\.filter_path/);

    fs.writeFileSync(path.join(dir, 'missing.yaml'), configFor('nowhere.ts'));
    const r2 = await validate(path.join(dir, 'missing.yaml'));
    assert.notEqual(r2.code, 0);
    assert.match(r2.out, /cannot read filter module .*nowhere\.ts: ENOENT/);

    fs.writeFileSync(path.join(dir, 'nodefault.ts'), 'export const x = 1;\n');
    fs.writeFileSync(path.join(dir, 'nodefault.yaml'), configFor('nodefault.ts'));
    const r3 = await validate(path.join(dir, 'nodefault.yaml'));
    assert.notEqual(r3.code, 0);
    assert.match(r3.out, /must export a default filter definition/);

    fs.writeFileSync(path.join(dir, 'unknown.yaml'), configFor('syntax.ts').replace('filter_path:', 'filter_paht: x\n              filter_path:'));
    const r4 = await validate(path.join(dir, 'unknown.yaml'));
    assert.notEqual(r4.code, 0);
    assert.match(r4.out, /unknown\.yaml:\d+:\d+: .*filter_paht/);
  });

  it('legate filter new NAME writes a filter and its test, which pass and load', async () => {
    const out = path.join(dir, 'scaffold');
    const made = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(LEGATE_BIN, ['filter', 'new', 'add-greeting', '--dir', out], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : 1, out: stdout + stderr });
      });
    });
    assert.equal(made.code, 0, made.out);
    assert.ok(fs.existsSync(path.join(out, 'add-greeting.ts')));
    const tested = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, ['--test', path.join(out, 'add-greeting.test.ts')], { timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : 1, out: stdout + stderr });
      });
    });
    assert.equal(tested.code, 0, tested.out);
    fs.writeFileSync(path.join(out, 'legate.yaml'), configFor('add-greeting.ts'));
    const v = await validate(path.join(out, 'legate.yaml'));
    assert.equal(v.code, 0, v.out);
  });

  function base(): string {
    return `http://127.0.0.1:${port}`;
  }
});
