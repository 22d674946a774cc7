// In process: the HTTP filter chain's semantics (Envoy's FilterManager rules) with tiny scripted filters registered
// under a test name, on one worker's real data path (test/support/in-process-worker.ts) with a real upstream and
// real HTTP/1.1 and HTTP/2 clients: order both ways, stop and continue, buffering and its limits, local replies
// through the encoders and the access log, clearRouteCache, and per-route enabling and disabling.

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { tempDir } from '../support/legate-process.ts';
import { bootstrap, cluster } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { waitUntil } from '../support/polling.ts';
import { InProcessWorker } from '../support/in-process-worker.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';
import type { HeaderList } from '../../src/http/stream-info.ts';
import { getHeader } from '../../src/http/stream-info.ts';
import { registerHttpFilter } from '../../workers/http/filters/filter-registry.ts';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter, type FilterCallbacks,
} from '../../workers/http/filters/http-filter.ts';

/** What one scripted filter does (its compiled config; plain data, as the snapshot carries it). */
interface Script {
  tag: string;
  /** decodeHeaders' status (default Continue). */
  decodeHeaders?: number;
  /** decodeData's status before the end of stream (default Continue). */
  decodeData?: number;
  /** At the request's end (data with endStream, or trailers): continueDecoding() (after a timer when > 0 ms). */
  continueDecodingAtEndMs?: number;
  /** From decodeHeaders: continueDecoding() after this many ms (the request may still be arriving). */
  continueDecodingAfterMs?: number;
  /** From decodeHeaders: continueDecoding() once decodingBuffer() holds this many bytes (with StopAll*). */
  continueWhenBuffered?: number;
  encodeHeaders?: number;
  encodeData?: number;
  /** decodeHeaders answers: sendLocalReply(status, body). */
  localReply?: { status: number; body: string };
  /** decodeHeaders sets host to this and calls clearRouteCache(). */
  rerouteToHost?: string;
  /** decodeHeaders sets host to this without clearRouteCache(). */
  setHostOnly?: string;
}

const events: string[] = [];

class ScriptedFilter extends PassThroughFilter {
  private readonly s: Script;
  private readonly cb: FilterCallbacks;

  constructor(s: Script, cb: FilterCallbacks) {
    super();
    this.s = s;
    this.cb = cb;
  }

  private log(what: string): void {
    events.push(`${this.s.tag}:${what}`);
  }

  override decodeHeaders(headers: HeaderList, endStream: boolean): number {
    this.log(`decodeHeaders${endStream ? '(end)' : ''}`);
    appendHeader(headers, 'x-decoded-by', this.s.tag);
    if (this.s.localReply !== undefined) {
      this.cb.sendLocalReply(this.s.localReply.status, this.s.localReply.body, ['x-local-by', this.s.tag], -1, `${this.s.tag}_says_no`);
      return FilterHeadersStatus.StopIteration;
    }
    if (this.s.rerouteToHost !== undefined) {
      setOnly(headers, 'host', this.s.rerouteToHost);
      this.cb.clearRouteCache();
    }
    if (this.s.setHostOnly !== undefined) setOnly(headers, 'host', this.s.setHostOnly);
    if (this.s.continueDecodingAfterMs !== undefined) setTimeout(() => this.cb.continueDecoding(), this.s.continueDecodingAfterMs);
    const want = this.s.continueWhenBuffered;
    if (want !== undefined) {
      const poll = setInterval(() => {
        const b = this.cb.decodingBuffer();
        if (b !== null && b.length >= want) {
          clearInterval(poll);
          this.cb.continueDecoding();
        }
      }, 5);
    }
    return this.s.decodeHeaders ?? FilterHeadersStatus.Continue;
  }

  override decodeData(data: Buffer, endStream: boolean): number {
    this.log(`decodeData(${data.length}${endStream ? ',end' : ''})`);
    if (endStream && this.s.continueDecodingAtEndMs !== undefined) return this.atEnd();
    return this.s.decodeData ?? FilterDataStatus.Continue;
  }

  override decodeTrailers(_trailers: HeaderList): number {
    this.log('decodeTrailers');
    if (this.s.continueDecodingAtEndMs !== undefined) return this.atEnd();
    return FilterTrailersStatus.Continue;
  }

  private atEnd(): number {
    const ms = this.s.continueDecodingAtEndMs!;
    if (ms === 0) return FilterDataStatus.Continue;
    setTimeout(() => this.cb.continueDecoding(), ms);
    return FilterDataStatus.StopIterationAndBuffer;
  }

  override encodeHeaders(headers: HeaderList, endStream: boolean): number {
    this.log(`encodeHeaders(${this.cb.responseStatus}${endStream ? ',end' : ''})`);
    appendHeader(headers, 'x-encoded-by', this.s.tag);
    return this.s.encodeHeaders ?? FilterHeadersStatus.Continue;
  }

  override encodeData(data: Buffer, endStream: boolean): number {
    this.log(`encodeData(${data.length}${endStream ? ',end' : ''})`);
    return this.s.encodeData ?? FilterDataStatus.Continue;
  }

  override onDestroy(): void {
    this.log('onDestroy');
  }
}

/** Appends `tag` to a comma-separated header (creates it). */
function appendHeader(headers: HeaderList, name: string, tag: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) {
      headers[i + 1] = `${headers[i + 1]},${tag}`;
      return;
    }
  }
  headers.push(name, tag);
}

function setOnly(headers: HeaderList, name: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) headers[i + 1] = value;
}

/** Whole-response buffering encoder: holds head and body, then adds x-buffered-bytes and lets all go. */
class ResponseBufferFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private head: HeaderList | null = null;
  constructor(cb: FilterCallbacks) {
    super();
    this.cb = cb;
  }
  override encodeHeaders(headers: HeaderList): number {
    this.head = headers;
    return FilterHeadersStatus.StopIteration;
  }
  override encodeData(_data: Buffer, endStream: boolean): number {
    if (!endStream) return FilterDataStatus.StopIterationAndBuffer;
    const buffered = this.cb.encodingBuffer();
    this.head!.push('x-buffered-bytes', String((buffered?.length ?? 0) + _data.length));
    return FilterDataStatus.Continue;
  }
}

registerHttpFilter('test.scripted', (config) => ({ createFilter: (cb) => new ScriptedFilter(config as Script, cb) }));
registerHttpFilter('test.response_buffer', () => ({ createFilter: (cb) => new ResponseBufferFilter(cb) }));

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, opts: { path?: string; method?: string; host?: string; body?: Buffer | string[]; trailers?: Record<string, string> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: opts.host ?? 'app.example' };
    if (opts.trailers !== undefined) headers['trailer'] = Object.keys(opts.trailers).join(', ');
    const req = http.request({ port, host: '127.0.0.1', path: opts.path ?? '/echo', method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = opts.body;
    if (Array.isArray(body)) {
      // Written in parts (chunked), so the request body arrives over several reads.
      let i = 0;
      const next = (): void => {
        if (i < body.length) {
          req.write(body[i++]!);
          setTimeout(next, 5);
        } else {
          if (opts.trailers !== undefined) req.addTrailers(opts.trailers);
          req.end();
        }
      };
      next();
    } else {
      req.end(body);
    }
  });
}

describe('HTTP filter chain (in process)', () => {
  let up: TestUpstream;
  let worker: InProcessWorker | null = null;
  let port: number;
  let logDir: string;
  /** Listeners started so far: each one's access log file is its own. */
  let started = 0;

  before(async () => {
    up = await startUpstream('chain');
    logDir = tempDir();
  });

  after(async () => {
    await up?.close();
  });

  beforeEach(() => {
    events.length = 0;
    up.seen.length = 0;
  });

  after(async () => {
    await worker?.stop();
  });

  /** One listener with `filters` (scripted by default) before the router; `limit`: its buffer limit. */
  async function start(filters: { name: string; filter?: string; config?: Script; disabled?: boolean }[], opts: { limit?: number } = {}): Promise<void> {
    await worker?.stop();
    worker = null;
    const logPath = path.join(logDir, `access-${++started}.log`);
    const yaml = bootstrap([`  - name: chain
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: chain
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %ROUTE_NAME%\\n" }
          route_config:
            virtual_hosts:
            - name: other
              domains: ["other.example"]
              routes:
              - name: other_route
                match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "other vhost" } }
            - name: app
              domains: ["*"]
              typed_per_filter_config:
                t_vhost: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig }
              routes:
              - name: off_route
                match: { prefix: "/off" }
                route: { cluster: backend }
                typed_per_filter_config:
                  t_b: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true }
                  t_default_off: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig }
              - name: app_route
                match: { prefix: "/" }
                route: { cluster: backend }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`], [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]);
    const mutate = (s: Snapshot): void => {
      const l = s.listeners[0]!;
      if (opts.limit !== undefined) l.perConnectionBufferLimitBytes = opts.limit;
      const f = l.filterChains[0]!.filter;
      assert.equal(f.kind, 'http_connection_manager');
      if (f.kind !== 'http_connection_manager') return;
      for (const x of filters) {
        f.hcm.httpFilters.push({ name: x.name, filter: x.filter ?? 'test.scripted', config: x.config ?? { tag: x.name }, disabled: x.disabled ?? false, stats: null, slots: null });
      }
    };
    worker = await InProcessWorker.start({ config: yaml, mutate });
    port = worker.listenerPort('chain');
    (start as unknown as { logPath: string }).logPath = logPath;
  }

  async function accessLog(): Promise<string[]> {
    const p = (start as unknown as { logPath: string }).logPath;
    await waitUntil(() => fs.existsSync(p) && fs.readFileSync(p, 'utf8').trim() !== '', () => 'the access log line');
    return fs.readFileSync(p, 'utf8').trim().split('\n');
  }

  it('decodes in config order and encodes in reverse; the router ends the chain; every filter is destroyed', async () => {
    await start([{ name: 't_a' }, { name: 't_b' }, { name: 't_c' }]);
    const r = await request(port, { path: '/echo/order' });
    assert.equal(r.status, 200);
    assert.equal(up.seen[0]!.headers['x-decoded-by'], 't_a,t_b,t_c');
    assert.equal(r.headers['x-encoded-by'], 't_c,t_b,t_a');
    const order = events.filter((e) => !e.endsWith('onDestroy'));
    assert.deepEqual(order.slice(0, 6), [
      't_a:decodeHeaders(end)', 't_b:decodeHeaders(end)', 't_c:decodeHeaders(end)',
      't_c:encodeHeaders(200)', 't_b:encodeHeaders(200)', 't_a:encodeHeaders(200)',
    ]);
    // Each body chunk (however the upstream's reads cut it) goes t_c, t_b, t_a; the last one carries the end.
    const data = order.slice(6);
    assert.equal(data.length % 3, 0);
    for (let i = 0; i < data.length; i += 3) {
      const what = data[i]!.slice(4);
      assert.deepEqual(data.slice(i, i + 3), [`t_c:${what}`, `t_b:${what}`, `t_a:${what}`]);
    }
    assert.ok(data.at(-1)!.endsWith(',end)'));
    await waitUntil(() => events.filter((e) => e.endsWith('onDestroy')).length === 3, () => 'onDestroy of the three filters');
    assert.equal(worker!.stat('http.chain.downstream_rq_2xx'), 1);
  });

  it('StopIteration holds the headers while data still reaches the stopped filter; continueDecoding lets all through once', async () => {
    await start([{ name: 't_a', config: { tag: 't_a', decodeHeaders: FilterHeadersStatus.StopIteration, decodeData: FilterDataStatus.StopIterationAndBuffer, continueDecodingAtEndMs: 20 } }, { name: 't_b' }]);
    const parts = ['part-one;', 'part-two;', 'part-three'];
    const r = await request(port, { path: '/echo/stop', method: 'POST', body: parts });
    assert.equal(r.status, 200);
    assert.equal(up.seen.length, 1);
    assert.equal(up.seen[0]!.body.toString(), parts.join(''));
    // t_b saw nothing before t_a let the request go, then the headers first and the body after them.
    const b = events.filter((e) => e.startsWith('t_b:decode'));
    assert.equal(b[0], 't_b:decodeHeaders');
    assert.ok(b.length >= 2 && b.at(-1)!.endsWith(',end)'), b.join(' '));
    const firstB = events.indexOf('t_b:decodeHeaders');
    const aEnd = events.findIndex((e) => e.startsWith('t_a:decodeData') && e.endsWith(',end)'));
    assert.ok(aEnd >= 0 && aEnd < firstB, events.join(' '));
  });

  it('StopAllIterationAndBuffer buffers the body without calling the filter, which gets it when it continues', async () => {
    await start([{ name: 't_a', config: { tag: 't_a', decodeHeaders: FilterHeadersStatus.StopAllIterationAndBuffer, continueWhenBuffered: 5000 } }, { name: 't_b' }]);
    const body = Buffer.alloc(5000, 'q');
    const r = await request(port, { path: '/echo/stopall', method: 'POST', body });
    assert.equal(r.status, 200);
    assert.equal(up.seen[0]!.body.length, 5000);
    // The filter's first data call came after it continued: the whole body at once, with the end of stream.
    const aData = events.filter((e) => e.startsWith('t_a:decodeData'));
    assert.deepEqual(aData, ['t_a:decodeData(5000,end)']);
  });

  it('a request body buffered past the connection buffer limit is a 413 (downstream_rq_too_large) and never reaches the upstream', async () => {
    await start([{ name: 't_a', config: { tag: 't_a', decodeHeaders: FilterHeadersStatus.StopAllIterationAndBuffer } }], { limit: 16 * 1024 });
    const r = await request(port, { path: '/echo/big', method: 'POST', body: Buffer.alloc(64 * 1024, 'b') });
    assert.equal(r.status, 413);
    assert.equal(r.body, 'Payload Too Large');
    assert.equal(up.seen.length, 0);
    assert.equal(worker!.stat('http.chain.downstream_rq_too_large'), 1);
    assert.match((await accessLog())[0]!, /^413 request_payload_too_large/);
  });

  it('StopAllIterationAndWatermark pauses the client past the limit instead, and the whole body goes up once it continues', async () => {
    await start([{ name: 't_a', config: { tag: 't_a', decodeHeaders: FilterHeadersStatus.StopAllIterationAndWatermark, continueDecodingAfterMs: 200 } }], { limit: 16 * 1024 });
    const body = Buffer.alloc(512 * 1024, 'w');
    const r = await request(port, { path: '/echo/watermark', method: 'POST', body });
    assert.equal(r.status, 200);
    assert.equal(up.seen[0]!.body.length, body.length);
    assert.equal(worker!.stat('http.chain.downstream_rq_too_large'), 0);
  });

  it('request trailers end the request through the filters (decodeTrailers), the router last', async () => {
    await start([{ name: 't_a' }]);
    const r = await request(port, { path: '/echo/trailers', method: 'POST', body: ['abc', 'def'], trailers: { 'x-check': '1' } });
    assert.equal(r.status, 200);
    assert.equal(up.seen[0]!.body.toString(), 'abcdef');
    assert.ok(events.includes('t_a:decodeTrailers'), events.join(' '));
  });

  it('an encoder filter can hold the whole response and change its head before it goes out', async () => {
    await start([{ name: 'buffer', filter: 'test.response_buffer' }, { name: 't_b' }]);
    const r = await request(port, { path: '/bytes/40000' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 40000);
    assert.equal(r.headers['x-buffered-bytes'], '40000');
    assert.equal(r.headers['x-encoded-by'], 't_b');
  });

  it('a response buffered past the limit is a 500 response_payload_too_large (rs_too_large), the upstream reset', async () => {
    await start([{ name: 'buffer', filter: 'test.response_buffer' }], { limit: 16 * 1024 });
    const r = await request(port, { path: '/bytes/200000' });
    assert.equal(r.status, 500);
    assert.equal(worker!.stat('http.chain.rs_too_large'), 1);
    assert.match((await accessLog())[0]!, /^500 response_payload_too_large/);
  });

  it("a filter's local reply goes through the encoders of the filters that saw the request (not later ones) and the access log", async () => {
    await start([{ name: 't_a' }, { name: 't_b', config: { tag: 't_b', localReply: { status: 403, body: 'denied by t_b' } } }, { name: 't_c' }]);
    const r = await request(port, { path: '/echo/denied', method: 'POST', body: Buffer.from('request body') });
    assert.equal(r.status, 403);
    assert.equal(r.body, 'denied by t_b');
    assert.equal(r.headers['x-local-by'], 't_b');
    assert.equal(r.headers['x-encoded-by'], 't_b,t_a');
    assert.equal(up.seen.length, 0);
    assert.ok(!events.some((e) => e.startsWith('t_c:') && !e.endsWith('onDestroy')), events.join(' '));
    assert.match((await accessLog())[0]!, /^403 t_b_says_no app_route$/);
  });

  it("the router's local replies (a direct_response) go through every encoder", async () => {
    await start([{ name: 't_a' }]);
    const r = await request(port, { host: 'other.example', path: '/anything' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'other vhost');
    assert.equal(r.headers['x-encoded-by'], 't_a');
  });

  it('clearRouteCache() routes again on the changed request; without it the first route stands', async () => {
    await start([{ name: 't_a', config: { tag: 't_a', rerouteToHost: 'other.example' } }]);
    const r = await request(port, { path: '/echo/x' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'other vhost');
    assert.equal(up.seen.length, 0);
    assert.match((await accessLog())[0]!, /^200 direct_response other_route$/);

    await start([{ name: 't_a', config: { tag: 't_a', setHostOnly: 'other.example' } }]);
    const r2 = await request(port, { path: '/echo/x' });
    assert.equal(r2.status, 200);
    assert.equal(up.seen.length, 1);
    assert.equal(up.seen[0]!.headers.host, 'other.example');
  });

  it('typed_per_filter_config: FilterConfig disabled turns a filter off for a route, and on for one disabled by default', async () => {
    await start([{ name: 't_a' }, { name: 't_b' }, { name: 't_default_off', disabled: true }, { name: 't_vhost' }]);
    await request(port, { path: '/echo/on' });
    assert.equal(up.seen[0]!.headers['x-decoded-by'], 't_a,t_b,t_vhost');
    await request(port, { path: '/off/echo' });
    assert.equal(up.seen[1]!.headers['x-decoded-by'], 't_a,t_default_off,t_vhost');
  });

  it('a route on which every filter is disabled runs the router alone', async () => {
    await start([{ name: 't_b' }]);
    const r = await request(port, { path: '/off/echo' });
    assert.equal(r.status, 200);
    assert.equal(up.seen[0]!.headers['x-decoded-by'], undefined);
    assert.deepEqual(events, []);
  });

  it('works the same over HTTP/2', async () => {
    await start([{ name: 't_a' }, { name: 't_b', config: { tag: 't_b', decodeHeaders: FilterHeadersStatus.StopIteration, decodeData: FilterDataStatus.StopIterationAndBuffer, continueDecodingAtEndMs: 10 } }]);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const reply = await new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const s = client.request({ ':method': 'POST', ':path': '/echo/h2', ':authority': 'app.example' });
        let headers: http2.IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        s.on('response', (h) => (headers = h));
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks).toString() }));
        s.on('error', reject);
        s.end('h2 body');
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-encoded-by'], 't_b,t_a');
      assert.equal(up.seen[0]!.body.toString(), 'h2 body');
      assert.equal(up.seen[0]!.headers['x-decoded-by'], 't_a,t_b');
    } finally {
      client.close();
    }
  });

  it('leaves the request untouched when it reaches the upstream through pass-through filters', async () => {
    await start([{ name: 't_a' }]);
    const r = await request(port, { path: '/echo/plain', method: 'PUT', body: Buffer.from('xyz') });
    assert.equal(r.status, 200);
    const seen = up.seen[0]!;
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.body.toString(), 'xyz');
    assert.equal(getHeader(seen.rawHeaders.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v)), 'content-length'), '3');
  });
});
