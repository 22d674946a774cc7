// End to end: envoy.filters.http.compressor through bin/legate, gzip, brotli and zstd, with a real node:http
// upstream and real clients (node:http without decompression, checked with node:zlib; curl --compressed). Also the
// corpus's gzip example (gzip/envoy.yaml) as it is, addresses changed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { startLegate, freePort, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { backendBootstrap, filter, hcmListener } from '../support/config-builder.ts';
import { BodyUpstream, requestReply, type Reply, type SeenBody } from '../support/body-upstream.ts';
import { curl } from '../support/curl.ts';
import { settle } from '../support/polling.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__gzip-envoy.yaml');
const JSON_BODY = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item number ${i}` })) });
const FIRST = 'first chunk of a streamed response '.repeat(40);
/** Random text (compresses to about 3/4 with the 1 KiB window of the gzip config below), sent many times. */
const FLOOD_CHUNK = Buffer.from(crypto.randomBytes(48 * 1024).toString('base64'));
const FLOOD_TOTAL = FLOOD_CHUNK.length * 512;
const REST = 'the rest of it '.repeat(400);

/** An upstream answering by path; /stream sends FIRST, then REST only once release() is called. */
class Upstream extends BodyUpstream {
  /** /flood: bytes handed to the socket so far (the upstream honours backpressure). */
  floodWritten = 0;

  protected answer(req: SeenBody, res: http.ServerResponse): void {
    const url = req.url;
    if (url === '/upload') {
      const enc = req.headers['content-encoding'];
      const text = enc === 'gzip' ? zlib.gunzipSync(req.body).toString() : req.body.toString();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(JSON.stringify({ enc: enc ?? null, length: req.headers['content-length'] ?? null, te: req.headers['transfer-encoding'] ?? null, text }));
    } else if (url.startsWith('/json') || url.startsWith('/off')) {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(JSON_BODY), etag: '"v1"' });
      res.end(JSON_BODY);
    } else if (url === '/small') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
      res.end('0123456789');
    } else if (url === '/png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': Buffer.byteLength(JSON_BODY) });
      res.end(JSON_BODY);
    } else if (url === '/notransform') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, no-transform' });
      res.end(JSON_BODY);
    } else if (url === '/encoded') {
      const gz = zlib.gzipSync(JSON_BODY);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': gz.length });
      res.end(gz);
    } else if (url === '/text') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(JSON_BODY), 'x-seen-accept-encoding': String(req.headers['accept-encoding']) });
      res.end(JSON_BODY);
    } else if (url === '/vary') {
      res.writeHead(200, { 'content-type': 'text/html', vary: 'Origin' });
      res.end(JSON_BODY);
    } else if (url === '/flood') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      this.floodWritten = 0;
      const pump = (): void => {
        while (this.floodWritten < FLOOD_TOTAL) {
          this.floodWritten += FLOOD_CHUNK.length;
          if (!res.write(FLOOD_CHUNK)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    } else if (url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(FIRST);
      this.hold(() => res.end(REST));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no');
    }
  }
}

/** A request that must come back whole (a reset or broken response fails the test). */
async function request(port: number, urlPath: string, headers: Record<string, string | number> = {}, method = 'GET', body?: string): Promise<Reply> {
  const r = await requestReply(port, urlPath, { headers, method, body });
  if (r.error !== '') throw new Error(`${method} ${urlPath}: ${r.error}`);
  return r;
}

function compressorFilter(name: string, library: string, extra = ''): string {
  return filter(name, 'envoy.extensions.filters.http.compressor.v3.Compressor', `${extra}              compressor_library:
                name: ${name}
                typed_config: ${library}
`);
}

const GZIP = '{ "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip, memory_level: 3, window_bits: 10, compression_level: BEST_COMPRESSION }';
const BROTLI = '{ "@type": type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli, quality: 5 }';
const ZSTD = '{ "@type": type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd, compression_level: 5 }';

describe('compressor: gzip, brotli, zstd', () => {
  let legate: LegateProcess;
  let up: Upstream;
  let gzipPort: number;
  let bothPort: number;
  let zstdPort: number;
  let requestPort: number;

  before(async () => {
    up = await new Upstream().listen();
    gzipPort = await freePort();
    bothPort = await freePort();
    zstdPort = await freePort();
    requestPort = await freePort();
    const routes = [
      {
        match: '{ prefix: "/off" }',
        action: 'route: { cluster: backend }\n                typed_per_filter_config:\n                  gz: { "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute, disabled: true }',
      },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listeners = [
      hcmListener({ name: 'gz', port: gzipPort, routes, httpFilters: compressorFilter('gz', GZIP) }),
      hcmListener({ name: 'both', port: bothPort, routes: [routes[1]!], httpFilters: compressorFilter('br', BROTLI) + compressorFilter('gzip', GZIP) }),
      hcmListener({ name: 'rq', port: requestPort, routes: [routes[1]!], httpFilters: compressorFilter('rq', GZIP, '              request_direction_config: { common_config: { min_content_length: 100, content_type: [application/json] } }\n') }),
      hcmListener({ name: 'zs', port: zstdPort, routes: [routes[1]!], httpFilters: compressorFilter('zs', ZSTD, '              response_direction_config: { disable_on_etag_header: true, remove_accept_encoding_header: true, common_config: { min_content_length: 100, content_type: [text/plain, application/json] } }\n') }),
    ];
    legate = await startLegate({
      config: backendBootstrap(listeners, up.port),
      concurrency: 1,
    });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('gzip: a JSON response is compressed with content-encoding, vary, no content-length, a weakened ETag; stats count it', async () => {
    const r = await request(gzipPort, '/json', { 'accept-encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['vary'], 'Accept-Encoding');
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['etag'], 'W/"v1"');
    assert.ok(r.body.length < Buffer.byteLength(JSON_BODY));
    assert.equal(zlib.gunzipSync(r.body).toString(), JSON_BODY);
    const stats = await legate.statsMap();
    const p = 'http.gz.compressor.gz.gzip.';
    assert.ok((stats.get(`${p}compressed`) ?? 0) >= 1);
    assert.ok((stats.get(`${p}header_compressor_used`) ?? 0) >= 1);
    assert.ok((stats.get(`${p}total_uncompressed_bytes`) ?? 0) >= Buffer.byteLength(JSON_BODY));
    assert.ok((stats.get(`${p}total_compressed_bytes`) ?? 0) >= r.body.length);
  });

  it('curl --compressed gets the body decoded', async () => {
    const r = await curl(['--compressed', `http://127.0.0.1:${gzipPort}/json`]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding')?.[0], 'gzip');
    assert.equal(r.body, JSON_BODY);
  });

  it('HTTP/2 downstream: compressed the same way', async () => {
    const r = await curl(['--http2-prior-knowledge', '--compressed', `http://127.0.0.1:${gzipPort}/json`]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding')?.[0], 'gzip');
    assert.equal(r.body, JSON_BODY);
  });

  it('not compressed: no Accept-Encoding (vary still added), identity preferred, q=0, HEAD, too small, other type, no-transform, already encoded', async () => {
    const p = 'http.gz.compressor.gz.gzip.';
    const before = await legate.statsMap();
    const none = await request(gzipPort, '/json');
    assert.equal(none.headers['content-encoding'], undefined);
    assert.equal(none.headers['vary'], 'Accept-Encoding');
    assert.equal(none.headers['content-length'], String(Buffer.byteLength(JSON_BODY)));
    assert.equal(none.body.toString(), JSON_BODY);
    const identity = await request(gzipPort, '/json', { 'accept-encoding': 'gzip;q=0.5, identity' });
    assert.equal(identity.headers['content-encoding'], undefined);
    const refused = await request(gzipPort, '/json', { 'accept-encoding': 'gzip;q=0, deflate' });
    assert.equal(refused.headers['content-encoding'], undefined);
    const head = await request(gzipPort, '/json', { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    const small = await request(gzipPort, '/small', { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.body.toString(), '0123456789');
    const png = await request(gzipPort, '/png', { 'accept-encoding': 'gzip' });
    assert.equal(png.headers['content-encoding'], undefined);
    assert.equal(png.headers['vary'], undefined);
    const nt = await request(gzipPort, '/notransform', { 'accept-encoding': 'gzip' });
    assert.equal(nt.headers['content-encoding'], undefined);
    assert.equal(nt.body.toString(), JSON_BODY);
    const enc = await request(gzipPort, '/encoded', { 'accept-encoding': 'gzip' });
    assert.equal(enc.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(enc.body).toString(), JSON_BODY, 'compressed once, not twice');
    const after = await legate.statsMap();
    const d = (n: string): number => (after.get(p + n) ?? 0) - (before.get(p + n) ?? 0);
    assert.equal(d('no_accept_header'), 1);
    assert.equal(d('header_identity'), 1);
    assert.equal(d('header_not_valid'), 1);
    assert.equal(d('content_length_too_small'), 1);
    assert.equal(d('not_compressed'), 8);
    assert.equal(d('compressed'), 0);
  });

  it('wildcard and an existing vary', async () => {
    const r = await request(gzipPort, '/vary', { 'accept-encoding': '*' });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['vary'], 'Origin, Accept-Encoding');
    assert.equal(zlib.gunzipSync(r.body).toString(), JSON_BODY);
  });

  it('per-route CompressorPerRoute disabled: not compressed', async () => {
    const r = await request(gzipPort, '/off', { 'accept-encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), JSON_BODY);
  });

  it('streams: the first chunk reaches the client compressed before the upstream sends the rest', async () => {
    const decoded = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the first chunk did not arrive before the rest was sent')), 15_000);
      const req = http.request({ host: '127.0.0.1', port: gzipPort, path: '/stream', headers: { 'accept-encoding': 'gzip' }, agent: false }, (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const gunzip = zlib.createGunzip();
        let text = '';
        let released = false;
        res.pipe(gunzip);
        gunzip.on('data', (c: Buffer) => {
          text += c.toString();
          if (!released && text.length >= FIRST.length) {
            released = true;
            clearTimeout(timer);
            up.release().catch(reject);
          }
        });
        gunzip.on('end', () => resolve(text));
        gunzip.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(decoded, FIRST + REST);
  });

  it('flow control: a client that stops reading pauses the upstream through the compressor', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gzipPort, path: '/flood', headers: { 'accept-encoding': 'gzip' }, agent: false }, (r) => {
        r.pause();
        resolve(r);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.headers['content-encoding'], 'gzip');
    // The upstream writes while it may; with the client not reading, what it could write stops growing well short
    // of the whole body (without flow control Legate would take it all).
    const written = await settle(() => up.floodWritten, 500, 30_000);
    assert.ok(written < FLOOD_TOTAL / 2, `the upstream wrote ${written} of ${FLOOD_TOTAL} bytes to a client that read nothing`);
    const got = await new Promise<number>((resolve, reject) => {
      const gunzip = zlib.createGunzip();
      let n = 0;
      gunzip.on('data', (c: Buffer) => (n += c.length));
      gunzip.on('end', () => resolve(n));
      gunzip.on('error', reject);
      res.pipe(gunzip);
      res.resume();
    });
    assert.equal(got, FLOOD_TOTAL);
  });

  it('brotli and gzip in one chain: the client\'s q-values choose', async () => {
    const br = await request(bothPort, '/json', { 'accept-encoding': 'gzip;q=0.5, br;q=0.9' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(zlib.brotliDecompressSync(br.body).toString(), JSON_BODY);
    const gz = await request(bothPort, '/json', { 'accept-encoding': 'br;q=0.2, gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(gz.body).toString(), JSON_BODY);
    // Equal q-values: the first in the header.
    const first = await request(bothPort, '/json', { 'accept-encoding': 'br, gzip' });
    assert.equal(first.headers['content-encoding'], 'br');
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.both.compressor.br.brotli.compressed') ?? 0) >= 2);
    assert.ok((stats.get('http.both.compressor.gzip.gzip.header_compressor_overshadowed') ?? 0) >= 2);
  });

  it('request_direction_config: a JSON upload is compressed on its way upstream (chunked); small or other types are not', async () => {
    const post = (type: string, body: string): Promise<Reply> =>
      request(requestPort, '/upload', { 'content-type': type, 'content-length': Buffer.byteLength(body) }, 'POST', body);
    const big = JSON.parse((await post('application/json', JSON_BODY)).body.toString()) as Record<string, unknown>;
    assert.deepEqual(big, { enc: 'gzip', length: null, te: 'chunked', text: JSON_BODY });
    const small = JSON.parse((await post('application/json', '{"a":1}')).body.toString()) as Record<string, unknown>;
    assert.deepEqual(small, { enc: null, length: '7', te: null, text: '{"a":1}' });
    const other = JSON.parse((await post('text/plain', JSON_BODY)).body.toString()) as Record<string, unknown>;
    assert.equal(other['enc'], null);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.rq.compressor.rq.gzip.request.compressed'), 1);
    assert.equal(stats.get('http.rq.compressor.rq.gzip.request.not_compressed'), 2);
    assert.equal(stats.get('http.rq.compressor.rq.gzip.request.content_length_too_small'), 1);
    assert.equal(stats.get('http.rq.compressor.rq.gzip.request.total_uncompressed_bytes'), Buffer.byteLength(JSON_BODY));
  });

  it('zstd, with disable_on_etag_header and remove_accept_encoding_header', async () => {
    const etag = await request(zstdPort, '/json', { 'accept-encoding': 'zstd' });
    assert.equal(etag.headers['content-encoding'], undefined, 'an ETag turns compression off');
    const r = await request(zstdPort, '/notransform', { 'accept-encoding': 'zstd' });
    assert.equal(r.headers['content-encoding'], undefined);
    const z = await request(zstdPort, '/text', { 'accept-encoding': 'zstd' });
    assert.equal(z.headers['content-encoding'], 'zstd');
    assert.equal(z.headers['x-seen-accept-encoding'], 'undefined', 'remove_accept_encoding_header');
    assert.equal(zlib.zstdDecompressSync(z.body).toString(), JSON_BODY);
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.zs.compressor.zs.zstd.response.not_compressed_etag') ?? 0) >= 1);
  });
});

describe('compressor: the corpus gzip example (gzip/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  it('loads', async () => {
    const port = await freePort();
    const statsPort = await freePort();
    const adminPort = await freePort();
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000', `port_value: ${port}`)
      .replace('port_value: 9902', `port_value: ${statsPort}`)
      .replaceAll('port_value: 9901', `port_value: ${adminPort}`)
      .replace('address: service', 'address: 127.0.0.1');
    const legate = await startLegate({ config: yaml, concurrency: 1 });
    try {
      const stats = await legate.statsMap();
      assert.ok(stats.has('http.ingress_http.compressor.text_optimized.gzip.response.compressed'), 'response_direction_config: the response stats under response.');
    } finally {
      await legate.stop();
    }
  });
});
