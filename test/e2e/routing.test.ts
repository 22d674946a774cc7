// End to end: virtual hosts, route matching and header rewriting through a real Legate.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('routing', () => {
  let legate: LegateProcess;
  let a: TestUpstream;
  let b: TestUpstream;
  let base: string;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    const listener = `  - name: routing
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: routing
          route_config:
            request_headers_to_add:
            - header: { key: x-from-config, value: config }
            response_headers_to_add:
            - header: { key: x-resp-config, value: "yes" }
            virtual_hosts:
            - name: api
              domains: ["api.example.com", "api.example.com:8080"]
              request_headers_to_add:
              - header: { key: x-vhost, value: api }
              routes:
              - match:
                  prefix: "/v1"
                  headers:
                  - name: x-canary
                    string_match: { exact: "1" }
                route: { cluster: b }
              - match: { prefix: "/v1" }
                route: { cluster: a }
                request_headers_to_add:
                - header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" }
                request_headers_to_remove: [x-secret]
            - name: wild
              domains: ["*.example.com"]
              routes:
              - match: { safe_regex: { regex: "/items/[0-9]+" } }
                route: { cluster: b, regex_rewrite: { pattern: { regex: "^/items/([0-9]+)$" }, substitution: "/echo/item-\\\\1" } }
              - match: { path: "/exact", case_sensitive: false }
                route: { cluster: a, host_rewrite_literal: rewritten.internal }
          http_filters:
          - name: envoy.filters.http.router
`;
    legate = await startLegate({
      config: bootstrap([listener], [
        cluster({ name: 'a', endpoints: [{ address: '127.0.0.1', port: a.port }] }),
        cluster({ name: 'b', endpoints: [{ address: '127.0.0.1', port: b.port }] }),
      ]),
    });
    base = `http://127.0.0.1:${await legate.listenerPort('routing')}`;
  });

  after(async () => {
    await legate?.stop();
    await a?.close();
    await b?.close();
  });

  it('answers 404 with no route when no virtual host matches', async () => {
    const r = await curl([`${base}/v1/x`, '-H', 'Host: other.org']);
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
  });

  it('matches exact domains, with and without a port, and header matchers in order', async () => {
    const r1 = await curl([`${base}/v1/echo`, '-H', 'Host: api.example.com', '-H', 'x-secret: s']);
    assert.equal(r1.headers.get('x-upstream')?.[0], 'a');
    const r2 = await curl([`${base}/v1/echo`, '-H', 'Host: api.example.com:8080', '-H', 'x-canary: 1']);
    assert.equal(r2.headers.get('x-upstream')?.[0], 'b');
    const seen = a.seen.at(-1)!;
    assert.equal(seen.headers['x-vhost'], 'api');
    assert.equal(seen.headers['x-from-config'], 'config');
    assert.equal(seen.headers['x-client'], '127.0.0.1');
    assert.equal(seen.headers['x-secret'], undefined);
    assert.equal(r1.headers.get('x-resp-config')?.[0], 'yes');
  });

  it('matches wildcard domains, safe_regex with regex_rewrite, and case-insensitive path with host rewrite', async () => {
    const r1 = await curl([`${base}/items/42`, '-H', 'Host: shop.example.com']);
    assert.equal(r1.status, 200);
    assert.equal((JSON.parse(r1.body) as { url: string }).url, '/echo/item-42');
    const r2 = await curl([`${base}/EXACT`, '-H', 'Host: shop.example.com']);
    assert.equal(r2.headers.get('x-upstream')?.[0], 'a');
    assert.equal(a.seen.at(-1)!.headers['host'], 'rewritten.internal');
    const r3 = await curl([`${base}/items/abc`, '-H', 'Host: shop.example.com']);
    assert.equal(r3.status, 404);
  });
});
