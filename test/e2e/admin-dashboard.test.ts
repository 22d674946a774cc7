// End to end: the admin's home page (`/`) is a live dashboard, checked in a real browser (Debian's headless
// Chromium): after its script has polled the admin's JSON endpoints, the page shows the server's state, each
// listener, each cluster host with its health, and the requests each connection manager served; a screenshot of
// it is a real, non-blank picture.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const run = promisify(execFile);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const REQUESTS = 7;

/** Headless Chromium on `url`, letting the page's script run for a few seconds of virtual time. */
async function chromium(args: string[], url: string): Promise<string> {
  const { stdout } = await run(CHROMIUM!, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--window-size=1200,900',
    '--virtual-time-budget=6000', `--user-data-dir=${tempDir('legate-chromium-')}`, ...args, url,
  ], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('admin dashboard', { skip: CHROMIUM === undefined ? 'Debian\'s chromium is not installed (make test installs it)' : false }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream('dash');
    port = await freePort();
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap([hcmListener({ name: 'web', port, statPrefix: 'web_ingress', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }] })],
        [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
    });
    for (let i = 0; i < REQUESTS; i++) assert.equal((await curl([`http://127.0.0.1:${port}/`])).status, 200);
    await waitUntil(async () => (await legate.statsMap()).get('http.web_ingress.downstream_rq_total') === REQUESTS, () => 'the requests are counted', 10_000, 100);
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('shows state, listeners, cluster hosts with health and per-prefix traffic once its script ran', async () => {
    const dom = await chromium(['--dump-dom'], `http://127.0.0.1:${legate.adminPort}/`);
    assert.match(dom, /data-updated="\d+"/, 'the script polled the admin and rendered');
    assert.match(dom, /state: LIVE/);
    assert.match(dom, new RegExp(`<td>web</td><td>127\\.0\\.0\\.1:${port}</td>`), 'the listener');
    assert.match(dom, new RegExp(`<td>backend</td><td>127\\.0\\.0\\.1:${up.port}</td><td class="healthy">healthy</td><td class="num">${REQUESTS}</td>`), 'the host, its health and its requests');
    assert.match(dom, new RegExp(`<td>web_ingress</td><td class="num">[^<]+</td><td class="num">${REQUESTS}</td><td class="num">0</td>`), 'the connection manager\'s requests and 5xx');
    assert.match(dom, /<a href="\/stats">\/stats<\/a>/, 'Envoy\'s endpoint list is still there');
  });

  it('renders to a real screenshot', async () => {
    const file = path.join(tempDir('legate-dashboard-'), 'dashboard.png');
    await chromium([`--screenshot=${file}`], `http://127.0.0.1:${legate.adminPort}/`);
    const png = fs.readFileSync(file);
    assert.deepEqual(pngSize(png), { width: 1200, height: 900 });
    // A blank 1200×900 page compresses to a few KB; tables and text make it tens of KB.
    assert.ok(png.length > 20_000, `the screenshot has content (${png.length} bytes)`);
  });
});
