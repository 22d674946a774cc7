// End to end: envoy.filters.network.local_ratelimit before tcp_proxy and before an HTTP connection manager, with two
// workers: one bucket for the whole process (as Envoy's), so exactly max_tokens connections get through however the
// kernel spreads them over the workers; the rest are closed before the terminal filter (the upstream never sees
// them) and counted in local_ratelimit.<stat_prefix>.rate_limited.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';

const LRL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

function limited(statPrefix: string, maxTokens: number): string {
  return `      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": ${LRL}
          stat_prefix: ${statPrefix}
          token_bucket: { max_tokens: ${maxTokens}, tokens_per_fill: 1, fill_interval: 3600s }
`;
}

/** One connection: sends "ping", resolves with what came back before the close ('' when closed at once). */
function exchange(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write('ping'));
    s.on('data', (d: string) => {
      got += d;
      if (got === 'ping') s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.setTimeout(10_000, () => s.destroy());
  });
}

describe('network local_ratelimit', () => {
  let legate: LegateProcess;
  let echo: net.Server;
  let http: TestUpstream;
  let accepted = 0;

  before(async () => {
    echo = net.createServer((s) => {
      accepted++;
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    http = await startUpstream('web');
    const tcpListener = `  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${limited('tcp_rl', 3)}      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: echo
`;
    const httpListener = `  - name: web
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
${limited('http_rl', 2)}      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: web }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
    legate = await startLegate({
      concurrency: 2,
      config: bootstrap([tcpListener, httpListener], [
        cluster({ name: 'echo', endpoints: [{ address: '127.0.0.1', port: (echo.address() as AddressInfo).port }] }),
        cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: http.port }] }),
      ]),
    });
  });

  after(async () => {
    await legate?.stop();
    echo?.close();
    await http?.close();
  });

  it('tcp_proxy: max_tokens connections over both workers reach the upstream, the rest are closed and counted', async () => {
    const port = await legate.listenerPort('tcp');
    const results: string[] = [];
    // Sixteen new connections: the kernel spreads them over both workers (a bucket per worker would let 6 through).
    for (let i = 0; i < 16; i++) results.push(await exchange(port));
    assert.equal(results.filter((r) => r === 'ping').length, 3, JSON.stringify(results));
    assert.equal(accepted, 3, 'the upstream saw only the connections that had a token');
    const stats = await legate.statsMap();
    assert.equal(stats.get('local_ratelimit.tcp_rl.rate_limited'), 13);
  });

  it('before an HTTP connection manager: the connection is closed before any request is read', async () => {
    const port = await legate.listenerPort('web');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await curl([`http://127.0.0.1:${port}/`, '-H', 'connection: close'])).status);
    assert.deepEqual(statuses.filter((s) => s === 200).length, 2, JSON.stringify(statuses));
    assert.equal(http.seen.length, 2);
    assert.equal((await legate.statsMap()).get('local_ratelimit.http_rl.rate_limited'), 3);
  });
});
