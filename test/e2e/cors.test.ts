// End to end: envoy.filters.http.cors through bin/legate, with curl sending what browsers send (preflight OPTIONS
// with Origin and Access-Control-Request-Method; actual requests with Origin). The corpus's CORS example runs as
// it is (addresses changed) and behaves as its README says; a second config covers the rest of CorsPolicy.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__cors-backend-envoy.yaml');

function preflight(url: string, origin: string, extra: string[] = [], method = 'GET'): Promise<CurlResult> {
  return curl(['-X', 'OPTIONS', '-H', `Origin: ${origin}`, '-H', `Access-Control-Request-Method: ${method}`, ...extra, url]);
}

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

describe('CORS: the corpus example (cors/backend/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('cors-backend');
    const yaml = fs.readFileSync(EXAMPLE, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 10000', 'port_value: 0')
      .replace('port_value: 8001', 'port_value: 0')
      .replace('address: backend-service', 'address: 127.0.0.1')
      .replace('port_value: 8080', `port_value: ${up.port}`);
    legate = await startLegate({ config: yaml, concurrency: 1 });
    // The example's one listener (unnamed in the file).
    const [port] = Object.values(await legate.listenerPorts());
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('/cors/open: a preflight from any origin is answered by Legate with the origin and GET; the actual request gets the origin', async () => {
    const before = up.seen.length;
    const p = await preflight(`${base}/cors/open`, 'http://app.example.com');
    assert.equal(p.status, 200);
    assert.equal(header(p, 'access-control-allow-origin'), 'http://app.example.com');
    assert.equal(header(p, 'access-control-allow-methods'), 'GET');
    assert.equal(up.seen.length, before, 'the preflight never reaches the backend');
    const r = await curl(['-H', 'Origin: http://app.example.com', `${base}/cors/open`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'access-control-allow-origin'), 'http://app.example.com');
    assert.equal(up.seen.length, before + 1);
  });

  it('/cors/disabled: no CORS headers, and the preflight goes to the backend', async () => {
    const before = up.seen.length;
    const p = await preflight(`${base}/cors/disabled`, 'http://app.example.com');
    assert.equal(header(p, 'access-control-allow-origin'), undefined);
    assert.equal(up.seen.length, before + 1);
    assert.equal(up.seen.at(-1)!.method, 'OPTIONS');
    const r = await curl(['-H', 'Origin: http://app.example.com', `${base}/cors/disabled`]);
    assert.equal(header(r, 'access-control-allow-origin'), undefined);
  });

  it('/cors/restricted: only *.envoyproxy.io origins are allowed', async () => {
    const ok = await preflight(`${base}/cors/restricted`, 'https://www.envoyproxy.io');
    assert.equal(ok.status, 200);
    assert.equal(header(ok, 'access-control-allow-origin'), 'https://www.envoyproxy.io');
    const r = await curl(['-H', 'Origin: http://app.example.com', `${base}/cors/restricted`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'access-control-allow-origin'), undefined);
    const stats = await legate.statsMap();
    assert.ok((stats.get('http.ingress_http.cors.origin_valid') ?? 0) >= 3);
    assert.ok((stats.get('http.ingress_http.cors.origin_invalid') ?? 0) >= 1);
  });
});

describe('CORS: every CorsPolicy setting', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  const policy = (fields: string): string => `{ "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, ${fields} }`;

  before(async () => {
    up = await startUpstream('cors');
    const vhost = `              typed_per_filter_config:
                cors: ${policy('allow_origin_string_match: [{ exact: "https://a.example" }, { prefix: "https://b." }], allow_methods: "GET, PUT", allow_headers: "x-one, x-two", expose_headers: "x-served-by", max_age: "600", allow_credentials: true')}
`;
    const routes = [
      // The route narrows methods and turns credentials off; everything else comes from the virtual host.
      { match: '{ prefix: "/narrow" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  cors: ${policy('allow_methods: "GET", allow_credentials: false')}` },
      { match: '{ prefix: "/star" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  cors: ${policy('allow_origin_string_match: [{ safe_regex: { regex: ".*" } }], allow_methods: "*", allow_headers: "*", allow_private_network_access: true')}` },
      { match: '{ prefix: "/strict" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  cors: ${policy('forward_not_matching_preflights: false')}` },
      { match: '{ prefix: "/shadow" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  cors: ${policy('filter_enabled: { default_value: { numerator: 0 } }, shadow_enabled: { default_value: { numerator: 100 } }')}` },
      { match: '{ prefix: "/off" }', action: 'route: { cluster: backend }\n                typed_per_filter_config:\n                  cors: { "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listeners = [
      hcmListener({ name: 'cors', routes, vhostExtra: vhost, hcmExtra: '', httpFilters: filter('cors', 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors') }),
    ];
    // A second listener with the deprecated per-virtual-host `cors` field and no typed_per_filter_config.
    listeners.push(hcmListener({
      name: 'legacy',
      routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }],
      vhostExtra: '              cors: { allow_origin_string_match: [{ exact: "https://legacy.example" }], allow_methods: "POST" }\n',
      httpFilters: filter('envoy.filters.http.cors', 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors'),
    }));
    legate = await startLegate({ config: bootstrap(listeners, [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })]), concurrency: 1 });
    base = `http://127.0.0.1:${await legate.listenerPort('cors')}`;
    (legate as unknown as { legacyBase: string }).legacyBase = `http://127.0.0.1:${await legate.listenerPort('legacy')}`;
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('a preflight from an allowed origin gets methods, headers, max-age and credentials; the actual response exposes headers', async () => {
    const p = await preflight(`${base}/any`, 'https://a.example', ['-H', 'Access-Control-Request-Headers: x-one']);
    assert.equal(p.status, 200);
    assert.equal(header(p, 'access-control-allow-origin'), 'https://a.example');
    assert.equal(header(p, 'access-control-allow-methods'), 'GET, PUT');
    assert.equal(header(p, 'access-control-allow-headers'), 'x-one, x-two');
    assert.equal(header(p, 'access-control-max-age'), '600');
    assert.equal(header(p, 'access-control-allow-credentials'), 'true');
    const r = await curl(['-H', 'Origin: https://b.example', `${base}/any`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'access-control-allow-origin'), 'https://b.example');
    assert.equal(header(r, 'access-control-allow-credentials'), 'true');
    assert.equal(header(r, 'access-control-expose-headers'), 'x-served-by');
  });

  it('a route policy overrides its virtual host setting by setting', async () => {
    const p = await preflight(`${base}/narrow`, 'https://a.example');
    assert.equal(header(p, 'access-control-allow-methods'), 'GET');
    assert.equal(header(p, 'access-control-allow-credentials'), undefined);
    assert.equal(header(p, 'access-control-max-age'), '600');
    assert.equal(header(p, 'access-control-allow-origin'), 'https://a.example');
  });

  it('"*" echoes the requested method and headers; private network access is allowed when asked', async () => {
    const p = await preflight(`${base}/star`, 'https://c.example', ['-H', 'Access-Control-Request-Headers: x-custom', '-H', 'Access-Control-Request-Private-Network: true'], 'DELETE');
    assert.equal(p.status, 200);
    assert.equal(header(p, 'access-control-allow-methods'), 'DELETE');
    assert.equal(header(p, 'access-control-allow-headers'), 'x-custom');
    assert.equal(header(p, 'access-control-allow-private-network'), 'true');
  });

  it('a preflight from another origin goes upstream, unless forward_not_matching_preflights is false', async () => {
    const before = up.seen.length;
    const p = await preflight(`${base}/any`, 'https://evil.example');
    assert.equal(header(p, 'access-control-allow-origin'), undefined);
    assert.equal(up.seen.length, before + 1);
    const strict = await preflight(`${base}/strict`, 'https://evil.example');
    assert.equal(strict.status, 200);
    assert.equal(header(strict, 'access-control-allow-origin'), undefined);
    assert.equal(up.seen.length, before + 1);
  });

  it('shadow mode counts origins without answering; FilterConfig disabled turns the filter off', async () => {
    const s0 = await legate.statsMap();
    const before = up.seen.length;
    const p = await preflight(`${base}/shadow`, 'https://a.example');
    assert.equal(header(p, 'access-control-allow-origin'), undefined);
    assert.equal(up.seen.length, before + 1);
    const off = await preflight(`${base}/off`, 'https://a.example');
    assert.equal(header(off, 'access-control-allow-origin'), undefined);
    const s1 = await legate.statsMap();
    // The shadow request was counted, the disabled one not.
    assert.equal((s1.get('http.cors.cors.origin_valid') ?? 0) - (s0.get('http.cors.cors.origin_valid') ?? 0), 1);
  });

  it('requests without Origin pass untouched and are not counted', async () => {
    const s0 = await legate.statsMap();
    const r = await curl(['-X', 'OPTIONS', `${base}/any`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'access-control-allow-origin'), undefined);
    const s1 = await legate.statsMap();
    assert.equal(s1.get('http.cors.cors.origin_valid'), s0.get('http.cors.cors.origin_valid'));
    assert.equal(s1.get('http.cors.cors.origin_invalid'), s0.get('http.cors.cors.origin_invalid'));
  });

  it('the deprecated `cors` on a virtual host applies when no typed_per_filter_config names the filter', async () => {
    const legacyBase = (legate as unknown as { legacyBase: string }).legacyBase;
    const p = await curl(['-X', 'OPTIONS', '-H', 'Origin: https://legacy.example', '-H', 'Access-Control-Request-Method: POST', `${legacyBase}/x`]);
    assert.equal(p.status, 200);
    assert.equal(header(p, 'access-control-allow-origin'), 'https://legacy.example');
    assert.equal(header(p, 'access-control-allow-methods'), 'POST');
  });
});
