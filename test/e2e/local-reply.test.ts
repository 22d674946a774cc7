// End to end: the connection manager's local_reply_config through bin/legate. Mappers (first match wins; filters by
// status code, request header, response flags, and/or), their status_code, body, headers_to_add and
// body_format_override; the fallback body_format (JSON); applied to the router's replies (no route, direct_response,
// no healthy upstream), to gRPC clients (grpc-message from the rewritten body), and seen by the access log. The
// config pipeline refuses what is not supported yet, with its position.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import net from 'node:net';
import { rawExchange, startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl, type CurlResult } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';

const LRL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

const LOCAL_REPLY = `          local_reply_config:
            mappers:
            - filter:
                and_filter:
                  filters:
                  - status_code_filter: { comparison: { op: EQ, value: { default_value: 404, runtime_key: lr.nr } } }
                  - header_filter: { header: { name: x-map-me, present_match: true } }
              status_code: 410
              body: { inline_string: "gone away" }
              headers_to_add:
              - header: { key: x-original-code, value: "%RESPONSE_CODE%" }
                append_action: OVERWRITE_IF_EXISTS_OR_ADD
              body_format_override:
                text_format: "[%LOCAL_REPLY_BODY%] %RESPONSE_CODE%"
                content_type: "text/x-custom"
            - filter:
                response_flag_filter: { flags: [UH] }
              body_format_override:
                text_format_source: { inline_string: "UH: %LOCAL_REPLY_BODY% (%RESPONSE_FLAGS%)" }
            - filter:
                or_filter:
                  filters:
                  - status_code_filter: { comparison: { op: GE, value: { default_value: 500, runtime_key: lr.ge } } }
                  - header_filter: { header: { name: x-teapot, string_match: { exact: "yes" } } }
              status_code: 418
            body_format:
              json_format:
                code: "%RESPONSE_CODE%"
                message: "%LOCAL_REPLY_BODY%"
                path: "%REQ(:PATH)%"
                details: "%RESPONSE_CODE_DETAILS%"
`;

describe('local_reply_config', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;
  let logPath: string;
  let port: number;

  before(async () => {
    up = await startUpstream('lr');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    logPath = path.join(tempDir(), 'access.log');
    const listener = hcmListener({
      name: 'lr', port,
      routes: [
        { match: '{ prefix: "/direct" }', action: 'direct_response: { status: 403, body: { inline_string: "forbidden-body" } }' },
        { match: '{ prefix: "/down" }', action: 'route: { cluster: empty }' },
        { match: '{ prefix: "/up" }', action: 'route: { cluster: backend }' },
        { match: '{ prefix: "/limited" }', action: `route: { cluster: backend }\n                typed_per_filter_config:\n                  lrl: { "@type": ${LRL}, stat_prefix: lim, token_bucket: { max_tokens: 1, fill_interval: 3600s }, filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } }` },
      ],
      hcmExtra: `${LOCAL_REPLY}          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% [%LOCAL_REPLY_BODY%]\\n" }
          request_headers_timeout: 0.3s
`,
      httpFilters: `          - name: lrl
            typed_config: { "@type": ${LRL}, stat_prefix: main }
`,
    });
    const clusters = [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
      cluster({ name: 'empty', endpoints: [] }),
    ];
    legate = await startLegate({ config: bootstrap([listener], clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    fs.rmSync(path.dirname(logPath), { recursive: true, force: true });
  });

  it('no mapper matches: body_format formats the reply as JSON (application/json)', async () => {
    const r = await curl([`${base}/missing`]);
    assert.equal(r.status, 404);
    assert.equal(header(r, 'content-type'), 'application/json');
    assert.deepEqual(JSON.parse(r.body), { code: 404, message: '', path: '/missing', details: 'route_not_found' });
    assert.equal(Number(header(r, 'content-length')), Buffer.byteLength(r.body));

    const d = await curl([`${base}/direct`]);
    assert.equal(d.status, 403);
    assert.deepEqual(JSON.parse(d.body), { code: 403, message: 'forbidden-body', path: '/direct', details: 'direct_response' });
  });

  it('the first matching mapper wins: body, headers_to_add (original code), status_code, body_format_override', async () => {
    const r = await curl(['-H', 'x-map-me: 1', '-H', 'x-teapot: yes', `${base}/missing`]);
    assert.equal(r.status, 410);
    assert.equal(r.body, '[gone away] 410');
    assert.equal(header(r, 'content-type'), 'text/x-custom');
    assert.equal(header(r, 'x-original-code'), '404');
  });

  it('response_flag_filter and or_filter mappers; a mapper without a format falls back to body_format', async () => {
    const uh = await curl([`${base}/down`]);
    assert.equal(uh.status, 503);
    assert.equal(uh.body, 'UH: no healthy upstream (UH)');
    assert.equal(header(uh, 'content-type'), 'text/plain');

    const teapot = await curl(['-H', 'x-teapot: yes', `${base}/missing`]);
    assert.equal(teapot.status, 418);
    assert.deepEqual(JSON.parse(teapot.body), { code: 418, message: '', path: '/missing', details: 'route_not_found' });
  });

  it('a filter\'s sendLocalReply goes through it too (local_ratelimit\'s 429)', async () => {
    assert.equal((await curl([`${base}/limited/1`])).status, 200);
    const r = await curl([`${base}/limited/2`]);
    assert.equal(r.status, 429);
    assert.equal(header(r, 'content-type'), 'application/json');
    assert.deepEqual(JSON.parse(r.body), { code: 429, message: 'local_rate_limited', path: '/limited/2', details: 'local_rate_limited' });
  });

  it('an upstream response is not a local reply: untouched', async () => {
    const r = await curl(['-H', 'x-teapot: yes', `${base}/up`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-original-code'), undefined);
    assert.doesNotMatch(r.body, /"code"/);
  });

  it('to a gRPC client the rewritten status and body become grpc-status and grpc-message', async () => {
    const r = await curl(['-H', 'content-type: application/grpc', '-H', 'x-map-me: 1', `${base}/missing`]);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'content-type'), 'application/grpc');
    // 410 has no gRPC mapping of its own: UNKNOWN (2), as Envoy's httpToGrpcStatus.
    assert.equal(header(r, 'grpc-status'), '2');
    assert.equal(decodeURIComponent(header(r, 'grpc-message') ?? ''), '[gone away] 410');
  });

  it('the access log sees the rewritten status and %LOCAL_REPLY_BODY%', async () => {
    await curl(['-H', 'x-map-me: 1', `${base}/missing-logged`]);
    await waitUntil(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').includes('/missing-logged'), () => 'the access log line');
    assert.match(fs.readFileSync(logPath, 'utf8'), /^\/missing-logged 410 NR route_not_found \[gone away\]$/m);
  });

  it('HTTP/1.1 codec errors are streams: local_reply_config applies, DPE and the codec details are logged, counted', async () => {
    const before = (await legate.statsMap()).get('http.lr.downstream_rq_4xx') ?? 0;
    const bad = await rawExchange(port, 'GET /bad HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\nGET /up HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(bad.data, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(bad.data, /\r\nconnection: close\r\n/i);
    assert.match(bad.data, /\r\ncontent-type: application\/json\r\n/i);
    const body = bad.data.slice(bad.data.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(JSON.parse(body), { code: 400, message: 'Bad Request', path: null, details: 'http1.invalid_characters' });
    // Nothing behind it was read, let alone forwarded.
    assert.equal((bad.data.match(/HTTP\/1\.1 /g) ?? []).length, 1);

    // A 501 (a transfer coding Legate does not decode) is >= 500: the or_filter mapper makes it a 418.
    const te = await rawExchange(port, 'POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
    assert.match(te.data, /^HTTP\/1\.1 418 /);
    const teBody = te.data.slice(te.data.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(JSON.parse(teBody), { code: 418, message: 'Not Implemented', path: null, details: 'http1.invalid_transfer_encoding' });

    await waitUntil(() => /^- 418 DPE http1\.invalid_transfer_encoding /m.test(fs.readFileSync(logPath, 'utf8')), () => 'the 501 made 418 in the access log');
    assert.match(fs.readFileSync(logPath, 'utf8'), /^- 400 DPE http1\.invalid_characters \[Bad Request\]$/m);
    await waitUntil(async () => ((await legate.statsMap()).get('http.lr.downstream_rq_4xx') ?? 0) >= before + 2, () => 'downstream_rq_4xx counted');
  });

  it('request_headers_timeout: a 408 through local_reply_config, logged, and the connection closes', async () => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (data += d));
    sock.on('error', () => {});
    sock.on('close', () => (closed = true));
    sock.write('GET /slow HTTP/1.1\r\nHost: a\r\n');
    try {
      await waitUntil(() => closed, () => `the connection closed after the 408, got ${JSON.stringify(data)}`);
    } finally {
      sock.destroy();
    }
    assert.match(data, /^HTTP\/1\.1 408 /);
    const body = data.slice(data.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(JSON.parse(body), { code: 408, message: 'request headers timeout', path: null, details: 'request_header_timeout' });
    await waitUntil(() => /^- 408 - request_header_timeout /m.test(fs.readFileSync(logPath, 'utf8')), () => 'the 408 in the access log');
  });
});

describe('local_reply_config: what the pipeline refuses', () => {
  function hcm(localReply: string): string {
    return `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: t
${localReply}          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 204 }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
  }
  const run = (yaml: string) => runConfigPipeline({ configPath: undefined, configYaml: yaml }, 1);

  it('filters Legate does not evaluate yet are "not supported yet" at their position', () => {
    const r = run(hcm(`          local_reply_config:
            mappers:
            - filter: { grpc_status_filter: { statuses: [UNAVAILABLE] } }
              status_code: 504
`));
    assert.ok(!r.ok);
    assert.match(r.message, /local_reply_config\.mappers\[0\]\.filter\.grpc_status_filter/);
    assert.match(r.message, /not supported yet/);
  });

  it('bad values are refused: unknown response flag, status out of range, bad operator', () => {
    const r = run(hcm(`          local_reply_config:
            mappers:
            - filter: { response_flag_filter: { flags: [UH] } }
              body_format_override: { text_format: "%NOT_AN_OPERATOR%" }
`));
    assert.ok(!r.ok);
    assert.match(r.message, /local_reply_config\.mappers\[0\]\.body_format_override\.text_format/);
    const ok = run(hcm(`          local_reply_config:
            body_format: { text_format: "%LOCAL_REPLY_BODY% %DYNAMIC_METADATA(a:b)% %FILTER_STATE(k:PLAIN)%" }
`));
    assert.ok(ok.ok, ok.ok ? '' : ok.message);
  });
});
