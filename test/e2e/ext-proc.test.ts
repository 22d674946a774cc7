// End to end: envoy.filters.http.ext_proc through bin/legate against a real grpc-js ExternalProcessor
// (envoy.service.ext_proc.v3 from Envoy's own protos): request and response header mutations, BUFFERED bodies
// replaced both ways, immediate_response, per-route disable and processing_mode override, message_timeout, a failed
// stream, failure_mode_allow, and the refusal of what is not implemented.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, header } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { cluster, filter as httpFilter, hcmListener, stdoutAccessLog, HTTP2_UPSTREAM as H2, type RouteSpec } from '../support/config-builder.ts';
import { startEnvoyGrpcService } from '../support/envoy-grpc-service.ts';
import { listenHttpPeer } from '../support/http-peer.ts';

const EXT_PROC = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';

function staticCluster(name: string, port: number, extra = ''): string {
  return cluster({ name, endpoints: [{ address: '127.0.0.1', port }], extra });
}

function listener(name: string, port: number, filterBody: string, routes: RouteSpec[]): string {
  return hcmListener({
    name, port, routes,
    hcmExtra: stdoutAccessLog(`AL ${name} %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\\n`),
    httpFilters: httpFilter('envoy.filters.http.ext_proc', EXT_PROC, `${filterBody}\n`),
  });
}

/** The route's typed_per_filter_config for ext_proc: an ExtProcPerRoute with `fields` (20-space indent). */
function perRoute(clusterName: string, fields: string): string {
  return `route: { cluster: ${clusterName} }\n                typed_per_filter_config:\n                  envoy.filters.http.ext_proc:\n                    "@type": ${PER_ROUTE}\n${fields}`;
}

const ROUTES: RouteSpec[] = [
  { match: '{ prefix: "/nocheck" }', action: perRoute('backend', '                    disabled: true') },
  { match: '{ prefix: "/body" }', action: perRoute('backend', `                    overrides:
                      processing_mode: { request_header_mode: SEND, response_header_mode: SKIP, request_body_mode: BUFFERED, response_body_mode: BUFFERED }`) },
  { match: '{ prefix: "/trailers" }', action: perRoute('trailers_backend', `                    overrides:
                      processing_mode: { request_header_mode: SKIP, response_header_mode: SKIP, response_trailer_mode: SEND }`) },
  { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
];

/** An upstream that records request trailers and answers with a trailer of its own. */
async function trailersUpstream(): Promise<{ port: number; seen: Record<string, string>[]; close(): void }> {
  const seen: Record<string, string>[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.trailers as Record<string, string>);
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-up-trailer' });
      res.write('with trailers');
      res.addTrailers({ 'x-up-trailer': 'u' });
      res.end();
    });
  });
  return { ...(await listenHttpPeer(server)), seen };
}

/** A chunked POST with request trailers; resolves with the status, body and response trailers. */
function postWithTrailers(url: string, trailers: Record<string, string>): Promise<{ status: number; body: string; trailers: Record<string, string | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked', te: 'trailers', trailer: Object.keys(trailers).join(',') } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.write('payload');
    req.addTrailers(trailers);
    req.end();
  });
}

type Msg = Record<string, any>;

function headersOf(map: Msg | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of (map?.['headers'] ?? []) as Msg[]) out[h['key']] = h['raw_value'] !== undefined && h['raw_value'].length > 0 ? Buffer.from(h['raw_value']).toString() : (h['value'] ?? '');
  return out;
}

describe('ext_proc: a grpc-js ExternalProcessor', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let failBase: string;
  let server: grpc.Server;
  let trailersUp: Awaited<ReturnType<typeof trailersUpstream>>;
  const received: { path: string; kinds: string[]; first: Msg }[] = [];

  before(async () => {
    up = await startUpstream('backend');
    trailersUp = await trailersUpstream();
    const processor = await startEnvoyGrpcService('envoy/service/ext_proc/v3/external_processor.proto', 'envoy.service.ext_proc.v3.ExternalProcessor', {
      Process(call: NodeJS.EventEmitter & { write(m: Msg): void; end(): void; emit(e: string, v: unknown): boolean }) {
        let entry: { path: string; kinds: string[]; first: Msg } | null = null;
        call.on('data', (req: Msg) => {
          const kind = String(req['request']);
          if (entry === null) {
            const h = headersOf(req['request_headers']?.['headers']);
            entry = { path: h[':path'] ?? (kind === 'response_trailers' ? '/trailers' : ''), kinds: [], first: req };
            received.push(entry);
          }
          entry.kinds.push(kind);
          const p = entry.path;
          if (p.startsWith('/slow')) return;
          if (p.startsWith('/error')) {
            call.emit('error', { code: grpc.status.INTERNAL, details: 'processor broke' });
            return;
          }
          if (p.startsWith('/immediate')) {
            call.write({ immediate_response: { status: { code: 'Forbidden' }, body: Buffer.from('blocked'), details: 'blocked_by_processor', headers: { set_headers: [{ header: { key: 'x-blocked', raw_value: Buffer.from('1') } }] } } });
            return;
          }
          switch (kind) {
            case 'request_headers':
              call.write({ request_headers: { response: { header_mutation: {
                set_headers: [{ header: { key: 'x-ext-proc', raw_value: Buffer.from('yes') } }, { header: { key: 'x-multi', raw_value: Buffer.from('2') }, append: { value: true } }],
                remove_headers: ['x-remove'],
              } } } });
              break;
            case 'response_headers':
              call.write({ response_headers: { response: { header_mutation: { set_headers: [{ header: { key: 'x-resp-proc', raw_value: Buffer.from('done') } }] } } } });
              break;
            case 'request_body':
              call.write({ request_body: { response: { body_mutation: { body: Buffer.from(`replaced-request(${Buffer.from(req['request_body']['body']).toString()})`) } } } });
              break;
            case 'response_body':
              call.write({ response_body: { response: { body_mutation: { body: Buffer.from('replaced-response') } } } });
              break;
            case 'response_trailers':
              call.write({ response_trailers: { header_mutation: { set_headers: [{ header: { key: 'x-resp-trailer-proc', raw_value: Buffer.from('resp') } }], remove_headers: ['x-up-trailer'] } } });
              break;
          }
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    } as never);
    server = processor.server;
    const procPort = processor.port;
    const port = await freePort();
    const failPort = await freePort();
    const deadPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    failBase = `http://127.0.0.1:${failPort}`;
    const filter = `              grpc_service: { envoy_grpc: { cluster_name: extproc } }
              message_timeout: 0.3s
              stat_prefix: p1`;
    const failFilter = `              grpc_service: { envoy_grpc: { cluster_name: dead } }
              failure_mode_allow: true
              processing_mode: { request_header_mode: SEND, response_header_mode: SKIP }`;
    const yaml = `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources:
  listeners:
${listener('proc', port, filter, ROUTES)}${listener('procfail', failPort, failFilter, ROUTES)}  clusters:
${staticCluster('backend', up.port)}${staticCluster('trailers_backend', trailersUp.port)}${staticCluster('extproc', procPort, H2)}${staticCluster('dead', deadPort, H2)}`;
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    trailersUp?.close();
    server?.forceShutdown();
  });

  it('request and response headers go to the processor and come back mutated', async () => {
    const r = await curl([`${base}/echo/a?b=1`, '-H', 'x-remove: r', '-H', 'x-multi: 1', '-H', 'x-keep: k']);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-resp-proc'), 'done');
    const seen = up.seen.at(-1)!;
    assert.equal(seen.headers['x-ext-proc'], 'yes');
    assert.equal(seen.headers['x-remove'], undefined);
    assert.equal(seen.headers['x-multi'], '1, 2');
    assert.equal(seen.headers['x-keep'], 'k');
    const e = received.at(-1)!;
    assert.deepEqual(e.kinds, ['request_headers', 'response_headers']);
    const h = headersOf(e.first['request_headers']['headers']);
    assert.equal(h[':method'], 'GET');
    assert.equal(h[':path'], '/echo/a?b=1');
    assert.equal(h[':authority'], base.slice('http://'.length));
    assert.equal(h['x-keep'], 'k');
    // A chunked body held while the headers are processed reaches the upstream whole (over the now idle connection).
    const post = await curl([`${base}/echo/post`, '-H', 'transfer-encoding: chunked', '--data-binary', 'held-body']);
    assert.equal(post.status, 200);
    assert.equal(up.seen.at(-1)!.body.toString(), 'held-body');
  });

  it('BUFFERED bodies (per-route processing_mode): both replaced', async () => {
    const r = await curl([`${base}/body`, '--data-binary', 'original']);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'replaced-response');
    assert.equal(header(r, 'content-length'), String('replaced-response'.length));
    assert.equal(up.seen.at(-1)!.body.toString(), 'replaced-request(original)');
    assert.deepEqual(received.at(-1)!.kinds, ['request_headers', 'request_body', 'response_body']);
    const chunked = await curl([`${base}/body`, '-H', 'transfer-encoding: chunked', '--data-binary', 'chunky']);
    assert.equal(chunked.status, 200);
    assert.equal(up.seen.at(-1)!.body.toString(), 'replaced-request(chunky)');
  });

  it('response_trailer_mode SEND: the response trailers go to the processor and come back mutated', async () => {
    const r = await postWithTrailers(`${base}/trailers`, { 'x-client-trailer': 'c' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'with trailers');
    assert.equal(r.trailers['x-resp-trailer-proc'], 'resp');
    assert.equal(r.trailers['x-up-trailer'], undefined);
    const sent = received.at(-1)!;
    assert.deepEqual(sent.kinds, ['response_trailers']);
    assert.equal(headersOf(sent.first['response_trailers']['trailers'])['x-up-trailer'], 'u');
  });

  it('immediate_response ends the request with the processor status, headers, body and details', async () => {
    const n = up.seen.length;
    const r = await curl([`${base}/immediate`]);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'blocked');
    assert.equal(header(r, 'x-blocked'), '1');
    assert.equal(up.seen.length, n);
    await waitUntil(() => /AL proc \/immediate 403 blocked_by_processor/.test(legate.stdout), () => legate.stdout, 10_000);
  });

  it('a route with the filter disabled opens no stream', async () => {
    const n = received.length;
    assert.equal((await curl([`${base}/nocheck`])).status, 200);
    assert.equal(received.length, n);
  });

  it('message_timeout is a 504, a failed stream a 500', async () => {
    assert.equal((await curl([`${base}/slow`])).status, 504);
    assert.equal((await curl([`${base}/error`])).status, 500);
  });

  it('failure_mode_allow: an unreachable processor lets the request through', async () => {
    const r = await curl([`${failBase}/echo`]);
    assert.equal(r.status, 200);
  });

  it('stats', async () => {
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.proc.ext_proc.p1.streams_started'), 8);
    assert.equal(stats.get('http.proc.ext_proc.p1.message_timeouts'), 1);
    assert.equal(stats.get('http.proc.ext_proc.p1.streams_failed'), 1);
    assert.ok((stats.get('http.proc.ext_proc.p1.stream_msgs_sent') ?? 0) >= 7);
    assert.equal(stats.get('http.procfail.ext_proc.failure_mode_allowed'), 1);
  });
});

describe('ext_proc: config', () => {
  it('refuses STREAMED / BUFFERED_PARTIAL bodies, sending request trailers and other fields as "not supported yet", with positions', async () => {
    const { loadConfig } = await import('../../src/config-loader/load-config.ts');
    const { ConfigErrorList } = await import('../../src/config-loader/config-error.ts');
    const yaml = `static_resources:
  listeners:
${listener('l', 1, `              grpc_service: { envoy_grpc: { cluster_name: c } }
              processing_mode: { request_body_mode: STREAMED, response_body_mode: BUFFERED_PARTIAL, request_trailer_mode: SEND }
              request_attributes: [ "request.path" ]`, ROUTES)}  clusters:
${staticCluster('backend', 2)}${staticCluster('c', 3)}`;
    let messages: string[] = [];
    try {
      loadConfig({ configPath: undefined, configYaml: yaml });
    } catch (err) {
      if (!(err instanceof ConfigErrorList)) throw err;
      messages = err.problems.filter((p) => p.code === 'not_supported').map((p) => p.message);
    }
    for (const what of ['request_body_mode', 'response_body_mode', 'request_trailer_mode', 'request_attributes']) {
      assert.ok(messages.some((m) => m.includes(what) && /\(line \d+\)/.test(m)), `${what}: ${messages.join('\n')}`);
    }
  });
});
