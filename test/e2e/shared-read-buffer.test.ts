// Shared-buffer reads (src/common/shared-read-buffer.ts): every plain TCP socket of a worker reads into one buffer,
// so whatever outlives a read must be a copy. These tests push many different bodies both ways at once through one
// worker (request bodies queued on upstream sockets, response bodies queued on slow clients, pipelined requests
// kept while the parser waits, the h2c hand-over) and check every byte; a missing copy shows up as another
// connection's bytes. The first test checks the fast path is really on in the pinned runtime.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { readIntoSharedBuffer, sharedBufferReadsAvailable } from '../../src/common/shared-read-buffer.ts';

/** Deterministic bytes for a download of `size` (different per size and seed, so a mix-up is visible). */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function sha(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

describe('shared-buffer reads in the runtime', () => {
  it('are available, and an accepted socket reads through them with end, pause and resume working', async () => {
    assert.equal(sharedBufferReadsAvailable(), true, 'the pinned Node must offer onread fields (else every read allocates)');
    const got: string[] = [];
    let installed = false;
    const server = net.createServer((sock) => {
      installed = readIntoSharedBuffer(sock, (chunk) => {
        got.push(chunk.toString('latin1'));
        sock.pause();
        setTimeout(() => sock.resume(), 20);
      });
      sock.on('end', () => sock.end('bye'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      client.on('data', (d: Buffer) => (text += d.toString('latin1')));
      client.on('end', () => resolve(text));
      client.on('error', reject);
      client.write('hello ');
      setTimeout(() => client.end('world'), 5);
    });
    server.close();
    assert.equal(installed, true);
    assert.equal(got.join(''), 'hello world');
    assert.equal(reply, 'bye');
  });
});

describe('shared-buffer reads through a worker', () => {
  let legate: LegateProcess;
  let upstream: http.Server;
  let port: number;

  before(async () => {
    upstream = http.createServer((req, res) => {
      const m = /^\/download\/([0-9]+)\/([0-9]+)$/.exec(req.url ?? '');
      if (m !== null) {
        req.resume();
        res.end(pattern(Number(m[1]), Number(m[2])));
        return;
      }
      // Echo: the body back, and its digest in a header.
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.setHeader('x-body-sha', sha(body));
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: echo, timeout: 30s }' }];
    legate = await startLegate({
      config: bootstrap(
        [hcmListener({ name: 'plain', routes, hcmExtra: '          codec_type: AUTO\n' })],
        [cluster({ name: 'echo', endpoints: [{ address: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] })],
      ),
      concurrency: 1,
    });
    port = await legate.listenerPort('plain');
  });

  after(async () => {
    await legate?.stop();
    upstream?.close();
  });

  it('echoes 120 different request bodies sent at once (1 B to 384 KiB, chunked and with a length) byte for byte', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 40 });
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 120; i++) {
      const size = i % 7 === 0 ? 1 : (i * 3331) % (384 * 1024);
      const body = pattern(size, i);
      const chunked = i % 2 === 0;
      jobs.push(
        new Promise<void>((resolve, reject) => {
          const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: `/echo/${i}`, agent, headers: chunked ? {} : { 'content-length': size } }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => {
              try {
                const echoed = Buffer.concat(parts);
                assert.equal(res.statusCode, 200);
                assert.equal(res.headers['x-body-sha'], sha(body), `request ${i}: the upstream got other bytes`);
                assert.equal(sha(echoed), sha(body), `request ${i}: the client got other bytes`);
                resolve();
              } catch (err) {
                reject(err);
              }
            });
          });
          req.on('error', reject);
          // Several writes per body, so bodies arrive in many reads interleaved with other connections'.
          const step = 1 + Math.floor(size / 5);
          for (let off = 0; off < size; off += step) req.write(body.subarray(off, Math.min(size, off + step)));
          req.end();
        }),
      );
    }
    await Promise.all(jobs);
    agent.destroy();
  });

  it('delivers 16 different downloads (up to 6 MiB) to clients that stall, so Legate queues what it writes', async () => {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 16; i++) {
      const size = i % 4 === 0 ? 1 + i : 2 * 1024 * 1024 + ((i * 917_851) % (4 * 1024 * 1024));
      jobs.push(
        new Promise<void>((resolve, reject) => {
          const req = http.get({ port, host: '127.0.0.1', path: `/download/${size}/${i}` }, (res) => {
            const parts: Buffer[] = [];
            let stalled = false;
            res.on('data', (c: Buffer) => {
              parts.push(c);
              if (stalled) return;
              // A stall after the first bytes fills the socket buffers: Legate's writes to this client queue
              // (holding what they write) while reads for other connections keep arriving.
              stalled = true;
              res.pause();
              setTimeout(() => res.resume(), 250);
            });
            res.on('end', () => {
              try {
                assert.equal(sha(Buffer.concat(parts)), sha(pattern(size, i)), `download ${i} (${size} bytes) differs`);
                resolve();
              } catch (err) {
                reject(err);
              }
            });
          });
          req.on('error', reject);
        }),
      );
    }
    await Promise.all(jobs);
  });

  it('answers pipelined requests with bodies in order, each body intact (input kept while a response is pending)', async () => {
    const bodies = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => pattern(1000 + i * 2500, 100 + i));
    const wire = Buffer.concat(
      bodies.flatMap((b, i) => [Buffer.from(`POST /pipe/${i} HTTP/1.1\r\nhost: x\r\ncontent-length: ${b.length}\r\n\r\n`, 'latin1'), b]),
    );
    const text = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let got = '';
      sock.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if ((got.match(/x-body-sha: /g) ?? []).length === bodies.length && got.endsWith(bodies[bodies.length - 1]!.toString('latin1'))) {
          sock.end();
          resolve(got);
        }
      });
      sock.on('error', reject);
      setTimeout(() => reject(new Error(`pipelined responses incomplete: ${got.length} bytes`)), 15_000).unref();
      // One write: all eight requests arrive in a read or two, the later ones kept while the first is answered.
      sock.write(wire);
    });
    const digests = [...text.matchAll(/x-body-sha: ([0-9a-f]+)/g)].map((m) => m[1]);
    assert.deepEqual(digests, bodies.map(sha));
  });

  it('hands an h2c prior-knowledge connection over intact (codec AUTO), bodies both ways', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const results = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(
          (i) =>
            new Promise<{ sent: string; got: string }>((resolve, reject) => {
              const body = pattern(5000 + i * 40_000, 200 + i);
              const s = session.request({ ':method': 'POST', ':path': `/h2/${i}` });
              const parts: Buffer[] = [];
              s.on('data', (c: Buffer) => parts.push(c));
              s.on('end', () => resolve({ sent: sha(body), got: sha(Buffer.concat(parts)) }));
              s.on('error', reject);
              s.end(body);
            }),
        ),
      );
      for (const r of results) assert.equal(r.got, r.sent);
    } finally {
      session.close();
    }
  });
});
