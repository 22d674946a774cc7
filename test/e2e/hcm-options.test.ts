// End to end: connection-manager request options — normalize_path, merge_slashes and
// headers_with_underscores_action — seen by the router and by the upstream.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('connection manager request options', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let strictPort: number;
  let dropPort: number;

  before(async () => {
    up = await startUpstream('opts');
    strictPort = await freePort();
    dropPort = await freePort();
    const routes = [
      { match: '{ path: "/echo/a/c" }', action: 'route: { cluster: backend }' },
      { match: '{ prefix: "/echo" }', action: 'route: { cluster: backend }' },
    ];
    const listeners = [
      hcmListener({
        name: 'strict',
        port: strictPort,
        routes,
        hcmExtra: '          normalize_path: true\n          merge_slashes: true\n          common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }\n',
      }),
      hcmListener({
        name: 'drop',
        port: dropPort,
        routes,
        hcmExtra: '          common_http_protocol_options: { headers_with_underscores_action: DROP_HEADER }\n',
      }),
    ];
    legate = await startLegate({ config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('normalizes dot segments and merges slashes before routing; the upstream gets the clean path', async () => {
    const r = await curl(['--path-as-is', `http://127.0.0.1:${strictPort}/echo//a/b/../c?x=//y`]);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { url: string }).url, '/echo/a/c?x=//y');
  });

  it('REJECT_REQUEST answers 400 to a header name with an underscore, never forwarding it', async () => {
    const before = up.seen.length;
    const r = await curl([`http://127.0.0.1:${strictPort}/echo`, '-H', 'x_bad: 1']);
    assert.equal(r.status, 400);
    assert.equal(up.seen.length, before);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.strict.requests_rejected_with_underscores_in_headers'), 1);
  });

  it('DROP_HEADER forwards the request without such headers', async () => {
    const r = await curl([`http://127.0.0.1:${dropPort}/echo`, '-H', 'x_bad: 1', '-H', 'x-good: 2']);
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x_bad'], undefined);
    assert.equal(seen.headers['x-good'], '2');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.drop.dropped_headers_with_underscores'), 1);
  });
});
