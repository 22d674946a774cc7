// The worker's async HTTP client (workers/upstream/async-client.ts) against real upstreams on 127.0.0.1: HTTP/1.1
// and HTTP/2 clusters through the worker's own pools, buffered and streamed exchanges, timeouts, errors and the
// cluster's upstream_rq_* stats. The cluster manager is built through the same config pipeline as bin/legate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { StatsHub } from '../../src/primary/stats-hub.ts';
import { decodeMessage, encodeMessage } from '../../src/messages/thread-messages.ts';
import { deepFreeze } from '../../src/common/deep-freeze.ts';
import type { Snapshot } from '../../src/snapshot/snapshot-types.ts';
import { ClusterMembership } from '../../src/upstream/cluster-membership.ts';
import { WorkerStats } from '../../src/stats/worker-stats.ts';
import { WorkerClusterManager } from '../../workers/upstream/cluster-manager.ts';
import { AsyncClient, AsyncClientError, type AsyncStreamCallbacks } from '../../workers/upstream/async-client.ts';
import { cluster } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';

async function workerClusters(clusters: string[]): Promise<{ client: AsyncClient; stat(name: string): number; stop(): void }> {
  const yaml = `static_resources:\n  clusters:\n${clusters.join('')}`;
  const result = runConfigPipeline({ configPath: undefined, configYaml: yaml }, 1);
  if (!result.ok) throw new Error(result.message);
  const hub = new StatsHub(1);
  hub.assignSlots(result.snapshot);
  const snapshot = deepFreeze(decodeMessage<Snapshot>(encodeMessage(result.snapshot)));
  const manager = new WorkerClusterManager(new WorkerStats(hub.regionFor(0)));
  manager.applyClusters(snapshot.clusters, snapshot.clusterSlots);
  const memberships = snapshot.clusters.map((c) => new ClusterMembership(c, hub.primaryStore, snapshot.clusterSlots[c.name]!, (u) => manager.applyHostSet(u)));
  await Promise.all(memberships.map((m) => m.start()));
  return {
    client: new AsyncClient(manager),
    stat(name) {
      const v = hub.snapshot().values.find((x) => x.info.name === name);
      return v === undefined ? 0 : v.value;
    },
    stop() {
      for (const m of memberships) m.stop();
      manager.close();
    },
  };
}

function listen(server: http.Server | http2.Http2Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function expectError(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof AsyncClientError && err.code === code);
}

test('async client over HTTP/1.1 and HTTP/2 clusters', { timeout: 60_000 }, async (t) => {
  const seen: { method: string; url: string; host: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const h1 = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method!, url: req.url!, host: req.headers.host ?? '', headers: req.headers, body });
      if (req.url === '/slow') return; // never answers
      if (req.url === '/big') {
        res.end(Buffer.alloc(4096, 'x'));
        return;
      }
      if (req.url === '/trailers') {
        res.addTrailers({ 'x-t': 'done' });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('with trailers');
        return;
      }
      res.writeHead(req.url === '/deny' ? 403 : 200, { 'x-echo-len': String(body.length) });
      res.end(`echo:${body}`);
    });
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      stream.respond({ ':status': 200, 'x-authority': String(headers[':authority']) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(`h2:${headers[':path']}:${body}`);
    });
  });
  const h1Port = await listen(h1);
  const h2Port = await listen(h2);
  const w = await workerClusters([
    cluster({ name: 'h1', endpoints: [{ address: '127.0.0.1', port: h1Port }] }),
    cluster({ name: 'h2', endpoints: [{ address: '127.0.0.1', port: h2Port }], extra: '    http2_protocol_options: {}\n' }),
    cluster({ name: 'dead', endpoints: [{ address: '127.0.0.1', port: 1 }] }),
  ]);
  t.after(() => {
    w.stop();
    h1.close();
    h1.closeAllConnections();
    h2.close();
  });
  await waitUntil(() => w.stat('cluster.h1.membership_healthy') === 1 && w.stat('cluster.h2.membership_healthy') === 1, () => 'hosts', 10_000);

  await t.test('buffered POST over HTTP/1.1: head, body, authority, extra headers', async () => {
    const r = await w.client.send('h1', { method: 'POST', path: '/check?a=1', authority: '', headers: ['x-extra', 'yes'], body: Buffer.from('hello'), timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'echo:hello');
    const s = seen.at(-1)!;
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/check?a=1');
    assert.equal(s.host, 'h1');
    assert.equal(s.headers['x-extra'], 'yes');
    assert.equal(s.headers['content-length'], '5');
    const r2 = await w.client.send('h1', { method: 'GET', path: '/deny', authority: 'auth.local', headers: null, body: null, timeoutMs: 0 });
    assert.equal(r2.status, 403);
    assert.equal(seen.at(-1)!.host, 'auth.local');
    assert.equal(w.stat('cluster.h1.upstream_rq_2xx'), 1);
    assert.equal(w.stat('cluster.h1.upstream_rq_4xx'), 1);
    assert.equal(w.stat('cluster.h1.upstream_rq_total'), 2);
    assert.equal(w.stat('cluster.h1.upstream_rq_completed'), 2);
    assert.equal(w.stat('cluster.h1.upstream_rq_active'), 0);
    // Both went over one pooled connection.
    assert.equal(w.stat('cluster.h1.upstream_cx_total'), 1);
  });

  await t.test('response trailers over HTTP/1.1 (chunked)', async () => {
    const r = await w.client.send('h1', { method: 'GET', path: '/trailers', authority: '', headers: null, body: null, timeoutMs: 5000 });
    assert.equal(r.body.toString(), 'with trailers');
    assert.deepEqual(r.trailers, ['x-t', 'done']);
  });

  await t.test('HTTP/2 cluster: request, trailers, authority', async () => {
    const r = await w.client.send('h2', { method: 'POST', path: '/svc/M', authority: '', headers: ['te', 'trailers'], body: Buffer.from('abc'), timeoutMs: 5000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'h2:/svc/M:abc');
    assert.equal(r.trailers?.[0], 'grpc-status');
    assert.equal(r.headers[r.headers.indexOf('x-authority') + 1], 'h2');
    assert.equal(w.stat('cluster.h2.upstream_cx_http2_total'), 1);
    assert.equal(w.stat('cluster.h2.upstream_rq_2xx'), 1);
  });

  await t.test('streaming over HTTP/2 and HTTP/1.1: body sent after start', async () => {
    for (const name of ['h2', 'h1']) {
      const events: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const cb: AsyncStreamCallbacks = {
          onHeaders(status, _h, end) { events.push(`headers:${status}:${end}`); },
          onData(data, end) {
            if (data.length > 0) events.push(`data:${data.toString()}`);
            if (end) resolve();
          },
          onTrailers() { events.push('trailers'); resolve(); },
          onReset(e) { reject(e); },
        };
        const s = w.client.start(name, { method: 'POST', path: '/stream', authority: '', headers: null, body: Buffer.from('a'), timeoutMs: 5000 }, false, cb);
        setTimeout(() => s.sendData(Buffer.from('b'), false), 20);
        setTimeout(() => s.sendData(Buffer.from('c'), true), 40);
      });
      await done;
      assert.equal(events[0], 'headers:200:false');
      assert.ok(events.join(',').includes(name === 'h2' ? 'h2:/stream:abc' : 'echo:abc'), events.join(','));
    }
    assert.equal(seen.at(-1)!.headers['transfer-encoding'], 'chunked');
  });

  await t.test('timeout: rejects, counts upstream_rq_timeout, resets the connection', async () => {
    await expectError(w.client.send('h1', { method: 'GET', path: '/slow', authority: '', headers: null, body: null, timeoutMs: 200 }), 'timeout');
    assert.equal(w.stat('cluster.h1.upstream_rq_timeout'), 1);
    assert.equal(w.stat('cluster.h1.upstream_rq_active'), 0);
  });

  await t.test('response over maxResponseBytes', async () => {
    await expectError(w.client.send('h1', { method: 'GET', path: '/big', authority: '', headers: null, body: null, timeoutMs: 5000 }, 1000), 'response_too_large');
    const ok = await w.client.send('h1', { method: 'GET', path: '/big', authority: '', headers: null, body: null, timeoutMs: 5000 }, 8192);
    assert.equal(ok.body.length, 4096);
  });

  await t.test('errors: unknown cluster, connect failure; reset() silences callbacks', async () => {
    await expectError(w.client.send('nope', { method: 'GET', path: '/', authority: '', headers: null, body: null, timeoutMs: 1000 }), 'no_cluster');
    await expectError(w.client.send('dead', { method: 'GET', path: '/', authority: '', headers: null, body: null, timeoutMs: 5000 }), 'connect_failure');
    let called = 0;
    const cb: AsyncStreamCallbacks = { onHeaders() { called++; }, onData() { called++; }, onTrailers() { called++; }, onReset() { called++; } };
    const s = w.client.start('h1', { method: 'GET', path: '/', authority: '', headers: null, body: null, timeoutMs: 1000 }, true, cb);
    s.reset();
    const s2 = w.client.start('nope', { method: 'GET', path: '/', authority: '', headers: null, body: null, timeoutMs: 1000 }, true, cb);
    s2.reset();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(called, 0);
    await waitUntil(() => w.stat('cluster.h1.upstream_rq_active') === 0, () => 'rq_active back to 0', 5000);
  });
});

test('gRPC async client: unary and bidi over the HTTP/2 cluster pool (grpc-js server)', { timeout: 60_000 }, async (t) => {
  const grpc = await import('@grpc/grpc-js');
  const id = (b: Buffer): Buffer => b;
  const def = {
    Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    Bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  };
  let lastMetadata: Record<string, unknown> = {};
  const server = new grpc.Server();
  server.addService(def as never, {
    Unary(call: { request: Buffer; metadata: { getMap(): Record<string, unknown> }; getDeadline(): unknown }, cb: (e: unknown, r?: Buffer) => void) {
      lastMetadata = { ...call.metadata.getMap(), deadline: call.getDeadline() };
      const text = call.request.toString();
      if (text === 'deny') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'no way: 100%' });
      if (text === 'slow') return; // never answers
      cb(null, Buffer.from(`re:${text}`));
    },
    Bidi(call: NodeJS.EventEmitter & { write(b: Buffer): void; end(): void }) {
      call.on('data', (b: Buffer) => call.write(Buffer.from(`echo:${b.toString()}`)));
      call.on('end', () => call.end());
    },
  } as never);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const { GrpcAsyncClient, GrpcCallError } = await import('../../workers/upstream/grpc-async-client.ts');
  const w = await workerClusters([
    cluster({ name: 'grpc', endpoints: [{ address: '127.0.0.1', port }], extra: '    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config:\n          http2_protocol_options: {}\n' }),
  ]);
  t.after(() => {
    w.stop();
    server.forceShutdown();
  });
  await waitUntil(() => w.stat('cluster.grpc.membership_healthy') === 1, () => 'host', 10_000);
  const g = new GrpcAsyncClient(w.client);

  const reply = await g.call('grpc', 'test.Echo/Unary', Buffer.from('hi'), 5000, ['x-md', 'v1']);
  assert.equal(reply.toString(), 're:hi');
  assert.deepEqual(lastMetadata['x-md'], 'v1');
  assert.ok(lastMetadata['deadline'] !== Infinity, `grpc-timeout became a deadline: ${String(lastMetadata['deadline'])}`);

  await assert.rejects(g.call('grpc', 'test.Echo/Unary', Buffer.from('deny'), 5000, null),
    (e: unknown) => e instanceof GrpcCallError && e.status === grpc.status.PERMISSION_DENIED && e.message === 'no way: 100%');
  await assert.rejects(g.call('grpc', 'test.Echo/Nope', Buffer.from('x'), 5000, null),
    (e: unknown) => e instanceof GrpcCallError && e.status === grpc.status.UNIMPLEMENTED);
  await assert.rejects(g.call('grpc', 'test.Echo/Unary', Buffer.from('slow'), 200, null),
    (e: unknown) => e instanceof GrpcCallError && (e.status === grpc.status.DEADLINE_EXCEEDED));

  const got: string[] = [];
  const closed = await new Promise<number>((resolve) => {
    const s = g.startStream('grpc', 'test.Echo/Bidi', 5000, null, {
      onMessage(m) {
        got.push(m.toString());
        if (got.length === 1) s.sendMessage(Buffer.from('two'), true);
      },
      onClose(status) { resolve(status); },
    });
    s.sendMessage(Buffer.from('one'), false);
  });
  assert.equal(closed, 0);
  assert.deepEqual(got, ['echo:one', 'echo:two']);
  assert.equal(w.stat('cluster.grpc.upstream_cx_http2_total'), 1);
});

test('async client to a TLS cluster (transport_socket UpstreamTlsContext, verified)', { timeout: 60_000 }, async (t) => {
  const { TestPki, opensslAvailable } = await import('../tls/support/test-pki.ts');
  if (!opensslAvailable()) {
    t.skip('openssl is not installed');
    return;
  }
  const https = await import('node:https');
  const pki = TestPki.create();
  const cert = pki.issue('authz', { sans: ['DNS:authz.test'] });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    res.writeHead(200, { 'x-tls': String((req.socket as import('node:tls').TLSSocket).servername) });
    res.end('secure');
  });
  const port = await listen(server as unknown as http.Server);
  const tlsExtra = `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: authz.test
        common_tls_context:
          validation_context:
            trusted_ca: { filename: ${pki.ca.certPath} }
            match_typed_subject_alt_names:
            - san_type: DNS
              matcher: { exact: authz.test }
`;
  const w = await workerClusters([cluster({ name: 'secure', endpoints: [{ address: '127.0.0.1', port }], extra: tlsExtra })]);
  t.after(() => {
    w.stop();
    server.closeAllConnections();
    server.close();
    pki.remove();
  });
  await waitUntil(() => w.stat('cluster.secure.membership_healthy') === 1, () => 'host', 10_000);
  const r = await w.client.send('secure', { method: 'GET', path: '/', authority: 'authz.test', headers: null, body: null, timeoutMs: 5000 });
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'secure');
  assert.equal(r.headers[r.headers.indexOf('x-tls') + 1], 'authz.test');
  assert.equal(w.stat('cluster.secure.ssl.handshake'), 1);
});
