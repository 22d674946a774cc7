// End to end: the embedded default config (`make run`) answers a request at once, with no other process.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, freePort, startLegate } from '../support/legate-process.ts';
import { curl } from '../support/curl.ts';

describe('config/demo.yaml', () => {
  it('serves curl on its listener through its own backend, and the admin answers', async () => {
    // The demo binds fixed ports (10000, 10001, 9901); the test lets the kernel pick the ingress and admin ports.
    // Its backend listener's port is also its cluster's endpoint, so it must be known beforehand (freePort, racy).
    const p2 = await freePort();
    const text = fs
      .readFileSync(path.join(ROOT, 'config/demo.yaml'), 'utf8')
      .replaceAll('port_value: 10000', 'port_value: 0')
      .replaceAll('port_value: 10001', `port_value: ${p2}`)
      .replaceAll('port_value: 9901', 'port_value: 0');
    const legate = await startLegate({ config: text, concurrency: 1 });
    const p1 = await legate.listenerPort('ingress');
    try {
      const r = await curl([`http://localhost:${p1}/`]);
      assert.equal(r.status, 200);
      assert.match(r.body, /Hello from Legate/);
      assert.ok(r.headers.has('x-envoy-upstream-service-time'), 'the answer went through the proxy hop');
      assert.ok(legate.adminPort > 0);
      const ready = await legate.admin('/ready');
      assert.equal(ready.status, 200);
      // The stdout access log shows the request in Envoy's default format.
      await new Promise((res) => setTimeout(res, 400));
      assert.match(legate.stdout, /"GET \/ HTTP\/1\.1" 200 - 0 \d+ \d+ \d+ "-" "curl\/[^"]+" "[0-9a-f-]{36}" "localhost:\d+" "127\.0\.0\.1:\d+"/);
    } finally {
      await legate.stop();
    }
  });
});
