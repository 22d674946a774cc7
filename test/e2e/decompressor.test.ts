// End to end: envoy.filters.http.decompressor through bin/legate (gzip, brotli, zstd), both directions, with a real
// node:http upstream and node:http clients: compressed requests reach the upstream decompressed (chunked, without
// content-length), compressed responses reach the client decompressed and streamed, and decompression bombs and
// corrupt bodies fail the stream (413/400 for a request, a reset for a response) and are counted.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { backendBootstrap, filter, hcmListener } from '../support/config-builder.ts';
import { BodyUpstream, requestReply, type Reply, type SeenBody } from '../support/body-upstream.ts';
import { encodeBody, type Coding } from '../support/content-codings.ts';

/** Text that compresses as prose does (a few times, far below max_inflate_ratio): words picked by an LCG. */
const TEXT = ((): string => {
  const words = ['proxy', 'stream', 'header', 'filter', 'route', 'cluster', 'upstream', 'listener', 'worker', 'chunk', 'zlib', 'envoy'];
  let x = 12345;
  let out = '';
  for (let i = 0; i < 2000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += words[x % words.length] + (i % 12 === 11 ? '\n' : ' ') + (x % 1000);
  }
  return out;
})();
const FIRST = 'streamed part one '.repeat(50);
const REST = 'streamed part two '.repeat(200);

const CODED = new Set(['/gzip', '/br', '/zstd']);

class Upstream extends BodyUpstream {
  protected answer(req: SeenBody, res: http.ServerResponse): void {
    const url = req.url;
    if (CODED.has(url)) {
      const coding = url.slice(1) as Coding;
      const body = encodeBody(coding, TEXT);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': coding, 'content-length': body.length });
      res.end(body);
    } else if (url === '/notransform') {
      const body = zlib.gzipSync(TEXT);
      res.writeHead(200, { 'content-encoding': 'gzip', 'cache-control': 'no-transform', 'content-length': body.length });
      res.end(body);
    } else if (url === '/bomb') {
      const body = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024));
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    } else if (url === '/corrupt') {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': 40 });
      res.end(Buffer.alloc(40, 7));
    } else if (url === '/stream') {
      const gz = zlib.createGzip();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      gz.on('data', (c: Buffer) => res.write(c));
      gz.on('end', () => res.end());
      gz.write(FIRST);
      gz.flush(zlib.constants.Z_SYNC_FLUSH);
      this.hold(() => gz.end(REST));
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }
  }
}

/** A request; a reset or broken response resolves with `error` set (never rejects, never hangs: 20 s timeout). */
function request(port: number, urlPath: string, headers: Record<string, string | number> = {}, body?: Buffer): Promise<Reply> {
  return requestReply(port, urlPath, { headers, body });
}

function decompressorFilter(name: string, library: string, extra = ''): string {
  return filter(name, 'envoy.extensions.filters.http.decompressor.v3.Decompressor', `${extra}              decompressor_library:
                name: ${name}
                typed_config: ${library}
`);
}

describe('decompressor', () => {
  let legate: LegateProcess;
  let up: Upstream;
  let gzPort: number;
  let brPort: number;
  let zsPort: number;

  before(async () => {
    up = await new Upstream().listen();
    gzPort = await freePort();
    brPort = await freePort();
    zsPort = await freePort();
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }];
    const listeners = [
      hcmListener({ name: 'gz', port: gzPort, routes, httpFilters: decompressorFilter('up', '{ "@type": type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip, max_inflate_ratio: 200 }') }),
      hcmListener({ name: 'br', port: brPort, routes, httpFilters: decompressorFilter('br', '{ "@type": type.googleapis.com/envoy.extensions.compression.brotli.decompressor.v3.Brotli }') }),
      hcmListener({ name: 'zs', port: zsPort, routes, httpFilters: decompressorFilter('zs', '{ "@type": type.googleapis.com/envoy.extensions.compression.zstd.decompressor.v3.Zstd, chunk_size: 8192 }',
          '              response_direction_config: { common_config: { enabled: { default_value: false, runtime_key: x } } }\n') }),
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

  it('a gzip request reaches the upstream decompressed, chunked, without its content-encoding; accept-encoding advertised', async () => {
    const gz = zlib.gzipSync(TEXT);
    const r = await request(gzPort, '/echo', { 'content-encoding': 'gzip', 'content-length': gz.length, 'accept-encoding': 'br' }, gz);
    assert.equal(r.status, 200);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.body.toString(), TEXT);
    assert.equal(seen.headers['content-encoding'], undefined);
    assert.equal(seen.headers['content-length'], undefined);
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    assert.equal(seen.headers['accept-encoding'], 'br,gzip');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.gz.decompressor.up.gzip.request.decompressed'), 1);
    assert.equal(stats.get('http.gz.decompressor.up.gzip.request.total_compressed_bytes'), gz.length);
    assert.equal(stats.get('http.gz.decompressor.up.gzip.request.total_uncompressed_bytes'), Buffer.byteLength(TEXT));
  });

  it('a request with another encoding passes untouched', async () => {
    const br = zlib.brotliCompressSync(TEXT);
    await request(gzPort, '/echo', { 'content-encoding': 'br', 'content-length': br.length }, br);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.headers['content-encoding'], 'br');
    assert.ok(seen.body.equals(br));
  });

  it('gzip, brotli responses reach the client decompressed; no-transform is left alone', async () => {
    const g = await request(gzPort, '/gzip');
    assert.equal(g.headers['content-encoding'], undefined);
    assert.equal(g.headers['content-length'], undefined);
    assert.equal(g.body.toString(), TEXT);
    const b = await request(brPort, '/br');
    assert.equal(b.headers['content-encoding'], undefined);
    assert.equal(b.body.toString(), TEXT);
    const nt = await request(gzPort, '/notransform');
    assert.equal(nt.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(nt.body).toString(), TEXT);
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.gz.decompressor.up.gzip.response.decompressed') ?? 0) >= 1);
    assert.ok((stats.get('http.gz.decompressor.up.gzip.response.not_decompressed') ?? 0) >= 1);
    assert.ok((stats.get('http.br.decompressor.br.brotli.response.decompressed') ?? 0) >= 1);
  });

  it('zstd: requests decompressed; responses left compressed when that direction is disabled (and not advertised)', async () => {
    const z = zlib.zstdCompressSync(TEXT);
    await request(zsPort, '/echo', { 'content-encoding': 'zstd' }, z);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.body.toString(), TEXT);
    assert.equal(seen.headers['accept-encoding'], undefined);
    const r = await request(zsPort, '/zstd');
    assert.equal(r.headers['content-encoding'], 'zstd');
    assert.equal(zlib.zstdDecompressSync(r.body).toString(), TEXT);
  });

  it('a response is streamed: the first part reaches the client before the upstream sends the rest', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the first part did not arrive before the rest was sent')), 15_000);
      const req = http.request({ host: '127.0.0.1', port: gzPort, path: '/stream', agent: false }, (res) => {
        assert.equal(res.headers['content-encoding'], undefined);
        let got = '';
        let released = false;
        res.on('data', (c: Buffer) => {
          got += c.toString();
          if (!released && got.length >= FIRST.length) {
            released = true;
            clearTimeout(timer);
            up.release().catch(reject);
          }
        });
        res.on('end', () => resolve(got));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(text, FIRST + REST);
  });

  it('decompression bombs and corrupt bodies: a request is answered 413 / 400, a response is reset; counted', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024));
    const before = up.seen.length;
    const r = await request(gzPort, '/echo', { 'content-encoding': 'gzip', 'content-length': bomb.length }, bomb);
    assert.equal(r.status, 413);
    const bad = await request(gzPort, '/echo', { 'content-encoding': 'gzip' }, Buffer.alloc(64, 9));
    assert.equal(bad.status, 400);
    const resBomb = await request(gzPort, '/bomb');
    assert.notEqual(resBomb.error, '', 'the response is cut');
    assert.ok(resBomb.body.length < 8 * 1024 * 1024);
    const corrupt = await request(gzPort, '/corrupt');
    assert.notEqual(corrupt.error, '');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.gz.decompressor.up.gzip.decompressor_library.zlib_data_error'), 4);
    // Legate is still serving.
    const ok = await request(gzPort, '/gzip');
    assert.equal(ok.body.toString(), TEXT);
    assert.ok(up.seen.length >= before);
  });
});
