// End to end: the router's retries through bin/legate (Envoy's retry_policy, its x-envoy-* request headers, per-try
// timeouts, the retry budget, body replay). The upstreams fail in scripted ways: each request carries a key and a
// script (x-test-script: "503,200" answers its first attempt 503, its second 200; "reset" closes the connection
// with no response; "slow" answers after 3 s); the upstream counts the attempts it saw per key.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { startLegate, freePort, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';
import { compileRetryPolicy, jitteredBackoffMs, parseRetryOn, RetryOn, type RetryPolicy } from '../../src/router/retry-policy.ts';

interface Seen {
  attempts: number;
  bodies: string[];
  attemptHeaders: (string | undefined)[];
}

/** An HTTP/1.1 (or, with `h2`, an h2c gRPC-style) upstream that follows each request's script. */
class ScriptedUpstream {
  readonly seen = new Map<string, Seen>();
  port = 0;
  private server: http.Server | http2.Http2Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  record(key: string, body: string, attemptHeader: string | undefined): number {
    let s = this.seen.get(key);
    if (s === undefined) {
      s = { attempts: 0, bodies: [], attemptHeaders: [] };
      this.seen.set(key, s);
    }
    s.attempts++;
    s.bodies.push(body);
    s.attemptHeaders.push(attemptHeader);
    return s.attempts;
  }

  attempts(key: string): number {
    return this.seen.get(key)?.attempts ?? 0;
  }

  async start(h2 = false): Promise<void> {
    if (h2) {
      const server = http2.createServer();
      server.on('stream', (stream, headers) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const key = String(headers['x-test-key']);
          const n = this.record(key, Buffer.concat(chunks).toString(), headers['x-envoy-attempt-count'] as string | undefined);
          const step = String(headers['x-test-script'] ?? '0').split(',')[n - 1] ?? '0';
          // Trailers-only gRPC responses: grpc-status in the head.
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': step, 'x-attempt': String(n) }, { endStream: true });
        });
      });
      this.server = server;
    } else {
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const key = String(req.headers['x-test-key']);
          const n = this.record(key, Buffer.concat(chunks).toString(), req.headers['x-envoy-attempt-count'] as string | undefined);
          const step = String(req.headers['x-test-script'] ?? '200').split(',')[n - 1] ?? '200';
          if (step === 'reset') {
            req.socket.destroy();
            return;
          }
          const answer = (status: number): void => {
            const body = `attempt ${n}`;
            const extra: Record<string, string> = {};
            if (status === 429) extra['retry-after'] = '0';
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), 'x-attempt': String(n), ...extra });
            res.end(body);
          };
          // "slow": 200 after 3 s; "d600": 200 after 600 ms.
          if (step === 'slow' || step.startsWith('d')) {
            const t = setTimeout(() => {
              this.timers.delete(t);
              if (!res.destroyed) answer(200);
            }, step === 'slow' ? 3000 : Number(step.slice(1)));
            this.timers.add(t);
            return;
          }
          answer(Number(step));
        });
      });
      server.keepAliveTimeout = 60_000;
      this.server = server;
    }
    this.server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }
}

let keySeq = 0;
function newKey(): string {
  return `k${process.pid}-${++keySeq}`;
}

function retryRoute(prefix: string, clusterName: string, policy: string): { match: string; action: string } {
  return { match: `{ prefix: "${prefix}" }`, action: `route: { cluster: ${clusterName}, retry_policy: ${policy} }` };
}

const BACKOFF = 'retry_back_off: { base_interval: 0.002s, max_interval: 0.01s }';

describe('retries: retry_policy through bin/legate', () => {
  let legate: LegateProcess;
  const up = new ScriptedUpstream();
  const grpcUp = new ScriptedUpstream();
  let deadPort = 0;
  let base = '';
  let externalBase = '';
  let smallBufBase = '';
  let vhostBase = '';
  let logPath = '';

  before(async () => {
    await up.start();
    await grpcUp.start(true);
    deadPort = await freePort(); // nothing listens: every connect is refused
    logPath = path.join(tempDir('legate-retries-'), 'access.log');
    const accessLog = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: "%REQ(X-TEST-KEY)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_REQUEST_ATTEMPT_COUNT%\\n"
`;
    const routes = [
      retryRoute('/5xx', 'flaky', `{ retry_on: "5xx", num_retries: 2, ${BACKOFF} }`),
      retryRoute('/reset', 'flaky', `{ retry_on: "reset", num_retries: 1, ${BACKOFF} }`),
      retryRoute('/gateway', 'flaky', `{ retry_on: "gateway-error", ${BACKOFF} }`),
      retryRoute('/codes', 'flaky', `{ retry_on: "retriable-status-codes,retriable-4xx", retriable_status_codes: [418], num_retries: 3, ${BACKOFF} }`),
      retryRoute('/headers', 'flaky', `{ retry_on: "retriable-headers", retriable_headers: [{ name: x-attempt, string_match: { exact: "1" } }], ${BACKOFF} }`),
      retryRoute('/onlyput', 'flaky', `{ retry_on: "5xx", retriable_request_headers: [{ name: ":method", string_match: { exact: PUT } }], ${BACKOFF} }`),
      retryRoute('/idle', 'flaky', `{ retry_on: "reset", per_try_idle_timeout: 0.3s, num_retries: 1, ${BACKOFF} }`),
      retryRoute('/pertry', 'flaky', `{ retry_on: "5xx", per_try_timeout: 0.3s, num_retries: 1, ${BACKOFF} }`),
      retryRoute('/connect', 'pair', `{ retry_on: "connect-failure", num_retries: 1, retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts, typed_config: { "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate } }], host_selection_retry_max_attempts: 50, ${BACKOFF} }`),
      retryRoute('/grpc', 'grpc', `{ retry_on: "unavailable,cancelled", num_retries: 2, ${BACKOFF} }`),
      retryRoute('/hdr', 'flaky', `{ retry_on: "connect-failure", num_retries: 0, ${BACKOFF} }`),
      retryRoute('/capped', 'capped', `{ retry_on: "5xx", ${BACKOFF} }`),
      retryRoute('/ratelimited', 'flaky', `{ retry_on: "retriable-4xx,retriable-status-codes", retriable_status_codes: [429], ${BACKOFF}, rate_limited_retry_back_off: { reset_headers: [{ name: retry-after, format: SECONDS }], max_interval: 1s } }`),
      { match: '{ prefix: "/hedge" }', action: `route: { cluster: flaky, retry_policy: { retry_on: "5xx", per_try_timeout: 0.3s, num_retries: 1, ${BACKOFF} }, hedge_policy: { hedge_on_per_try_timeout: true } }` },
      { match: '{ prefix: "/none" }', action: 'route: { cluster: flaky }' },
    ];
    const vhostExtra = '              include_request_attempt_count: true\n              include_attempt_count_in_response: true\n';
    // Trusted: loopback is internal under internal_address_config's private ranges.
    const internal = hcmListener({ name: 'internal', routes, vhostExtra, hcmExtra: `          use_remote_address: true\n          internal_address_config: {}\n${accessLog}` });
    // Not trusted (no use_remote_address, no x-forwarded-for): its x-envoy-* retry headers are not honoured.
    const external = hcmListener({ name: 'external', routes, vhostExtra });
    const smallBuf = hcmListener({ name: 'smallbuf', routes, vhostExtra }).replace('    filter_chains:', '    per_connection_buffer_limit_bytes: 1024\n    filter_chains:');
    // A virtual host's retry_policy: its routes without one inherit it; a route's own replaces it.
    const vhostPolicy = hcmListener({
      name: 'vhostpolicy',
      vhostExtra: `              retry_policy: { retry_on: "5xx", num_retries: 1, ${BACKOFF} }\n`,
      routes: [
        retryRoute('/own', 'flaky', `{ retry_on: "reset", ${BACKOFF} }`),
        { match: '{ prefix: "/" }', action: 'route: { cluster: flaky }' },
      ],
    });
    legate = await startLegate({
      config: bootstrap([internal, external, smallBuf, vhostPolicy], [
        cluster({ name: 'flaky', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
        // RANDOM: without previous_hosts a retry would pick the refusing host again half the time.
        cluster({ name: 'pair', endpoints: [{ address: '127.0.0.1', port: deadPort }, { address: '127.0.0.1', port: up.port }], extra: '    lb_policy: RANDOM\n' }),
        cluster({ name: 'capped', endpoints: [{ address: '127.0.0.1', port: up.port }], extra: '    circuit_breakers: { thresholds: [{ max_retries: 0 }] }\n' }),
        cluster({ name: 'grpc', endpoints: [{ address: '127.0.0.1', port: grpcUp.port }], extra: '    http2_protocol_options: {}\n' }),
      ]),
      concurrency: 1,
    });
    base = `http://127.0.0.1:${await legate.listenerPort('internal')}`;
    externalBase = `http://127.0.0.1:${await legate.listenerPort('external')}`;
    smallBufBase = `http://127.0.0.1:${await legate.listenerPort('smallbuf')}`;
    vhostBase = `http://127.0.0.1:${await legate.listenerPort('vhostpolicy')}`;
  });

  after(async () => {
    await legate?.stop();
    await up.close();
    await grpcUp.close();
  });

  function get(url: string, key: string, script: string, extra: string[] = []): ReturnType<typeof curl> {
    return curl(['-H', `x-test-key: ${key}`, '-H', `x-test-script: ${script}`, ...extra, url]);
  }

  async function logLine(key: string): Promise<string[]> {
    let line: string | undefined;
    await waitUntil(() => {
      line = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith(key + ' ')) : undefined;
      return line !== undefined;
    }, () => `no access log line for ${key}`, 10_000);
    return line!.split(' ');
  }

  it('retries a 503 (retry_on 5xx): the client gets the second attempt\'s 200; attempt counts both ways', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/5xx`, key, '503,200');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    assert.equal(up.attempts(key), 2);
    assert.deepEqual(up.seen.get(key)!.attemptHeaders, ['1', '2']);
    assert.deepEqual(r.headers.get('x-envoy-attempt-count'), ['2']);
    assert.deepEqual(await logLine(key), [key, '200', '-', '2']);
    const after = await legate.statsMap();
    const delta = (n: string): number => (after.get(`cluster.flaky.${n}`) ?? 0) - (before.get(`cluster.flaky.${n}`) ?? 0);
    assert.equal(delta('upstream_rq_retry'), 1);
    assert.equal(delta('upstream_rq_retry_success'), 1);
    assert.equal(delta('upstream_rq_retry_backoff_exponential'), 1);
    assert.equal(delta('upstream_rq_total'), 2);
  });

  it('stops after num_retries: the last 503 goes to the client with URX, counted as limit exceeded', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/5xx`, key, '503,503,503,200');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'attempt 3');
    assert.equal(up.attempts(key), 3);
    assert.deepEqual(await logLine(key), [key, '503', 'URX', '3']);
    const after = await legate.statsMap();
    assert.equal((after.get('cluster.flaky.upstream_rq_retry_limit_exceeded') ?? 0) - (before.get('cluster.flaky.upstream_rq_retry_limit_exceeded') ?? 0), 1);
  });

  it('circuit breaker max_retries: a retry past it is not made (upstream_rq_retry_overflow)', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/capped`, key, '503,200');
    assert.equal(r.status, 503);
    assert.equal(up.attempts(key), 1);
    const after = await legate.statsMap();
    assert.equal((after.get('cluster.capped.upstream_rq_retry_overflow') ?? 0) - (before.get('cluster.capped.upstream_rq_retry_overflow') ?? 0), 1);
  });

  it('rate_limited_retry_back_off: the back-off comes from the response\'s reset header', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/ratelimited`, key, '429,200');
    assert.equal(r.status, 200);
    assert.equal(up.attempts(key), 2);
    const after = await legate.statsMap();
    const delta = (n: string): number => (after.get(`cluster.flaky.${n}`) ?? 0) - (before.get(`cluster.flaky.${n}`) ?? 0);
    assert.equal(delta('upstream_rq_retry_backoff_ratelimited'), 1);
    assert.equal(delta('upstream_rq_retry_backoff_exponential'), 0);
  });

  it('a virtual host\'s retry_policy applies to its routes without one; a route\'s own wins', async () => {
    let key = newKey();
    let r = await get(`${vhostBase}/inherit`, key, '503,200');
    assert.equal(r.status, 200);
    assert.equal(up.attempts(key), 2);
    key = newKey();
    r = await get(`${vhostBase}/own`, key, '503,200');
    assert.equal(r.status, 503, 'the route\'s policy retries resets only');
    assert.equal(up.attempts(key), 1);
  });

  it('hedge_on_per_try_timeout: a per-try timeout starts a second attempt beside the first; the first answer wins', async () => {
    const before = await legate.statsMap();
    // The hedge answers first; the slow first attempt is cancelled.
    const key = newKey();
    const r = await get(`${base}/hedge`, key, 'slow,200');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    assert.deepEqual(r.headers.get('x-envoy-attempt-count'), ['2']);
    // The first attempt, still under way at the per-try timeout, answers before the hedge: its response wins (a
    // plain per-try timeout would have cut it and waited for the slow second one).
    const key2 = newKey();
    const r2 = await get(`${base}/hedge`, key2, 'd1200,slow');
    assert.equal(r2.status, 200);
    assert.equal(r2.body, 'attempt 1');
    assert.equal(up.attempts(key2), 2, 'num_retries 1: one hedge only');
    const after = await legate.statsMap();
    const delta = (n: string): number => (after.get(`cluster.flaky.${n}`) ?? 0) - (before.get(`cluster.flaky.${n}`) ?? 0);
    assert.ok(delta('upstream_rq_per_try_timeout') >= 2);
    assert.equal(delta('upstream_rq_retry'), 2);
    assert.equal(delta('upstream_rq_cancelled'), 2, 'the losing attempt of each request is cancelled');
    await waitUntil(async () => ((await legate.statsMap()).get('cluster.flaky.upstream_rq_active') ?? 0) === 0, () => 'attempts still active');
  });

  it('without a retry_policy nothing is retried', async () => {
    const key = newKey();
    const r = await get(`${base}/none`, key, '503,200');
    assert.equal(r.status, 503);
    assert.equal(up.attempts(key), 1);
    assert.deepEqual(r.headers.get('x-envoy-attempt-count'), ['1']);
  });

  it('retries a connection reset before the response (retry_on reset)', async () => {
    const key = newKey();
    const r = await get(`${base}/reset`, key, 'reset,200');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    assert.equal(up.attempts(key), 2);
  });

  it('gateway-error retries 502/503/504 only; retriable-status-codes and retriable-4xx their codes', async () => {
    let key = newKey();
    let r = await get(`${base}/gateway`, key, '504,200');
    assert.equal(r.status, 200);
    assert.equal(up.attempts(key), 2);
    key = newKey();
    r = await get(`${base}/gateway`, key, '500,200');
    assert.equal(r.status, 500);
    assert.equal(up.attempts(key), 1);
    key = newKey();
    r = await get(`${base}/codes`, key, '418,409,500,200');
    assert.equal(r.status, 500, 'a 500 is not among the retriable codes');
    assert.equal(up.attempts(key), 3);
  });

  it('retriable_headers match the response; retriable_request_headers gate the request', async () => {
    let key = newKey();
    let r = await get(`${base}/headers`, key, '200,201');
    assert.equal(r.status, 201, 'the first response (x-attempt: 1) matched a retriable header');
    key = newKey();
    r = await get(`${base}/onlyput`, key, '503,200');
    assert.equal(r.status, 503);
    assert.equal(up.attempts(key), 1);
    key = newKey();
    r = await get(`${base}/onlyput`, key, '503,200', ['-X', 'PUT']);
    assert.equal(r.status, 200);
    assert.equal(up.attempts(key), 2);
  });

  it('replays the request body on the retry (with a length, and chunked)', async () => {
    let key = newKey();
    let r = await get(`${base}/5xx`, key, '503,200', ['--data-binary', 'hello body']);
    assert.equal(r.status, 200);
    assert.deepEqual(up.seen.get(key)!.bodies, ['hello body', 'hello body']);
    key = newKey();
    r = await get(`${base}/5xx`, key, '503,503,200', ['-H', 'transfer-encoding: chunked', '--data-binary', 'chunked body']);
    assert.equal(r.status, 200);
    assert.deepEqual(up.seen.get(key)!.bodies, ['chunked body', 'chunked body', 'chunked body']);
  });

  it('a body beyond the connection buffer limit is not retried', async () => {
    const key = newKey();
    const big = 'x'.repeat(4096);
    const r = await get(`${smallBufBase}/5xx`, key, '503,200', ['--data-binary', big]);
    assert.equal(r.status, 503);
    assert.equal(up.attempts(key), 1);
    // A small one is.
    const key2 = newKey();
    const r2 = await get(`${smallBufBase}/5xx`, key2, '503,200', ['--data-binary', 'small']);
    assert.equal(r2.status, 200);
  });

  it('per_try_timeout: a slow first try is abandoned and retried', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/pertry`, key, 'slow,200');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    const after = await legate.statsMap();
    assert.equal((after.get('cluster.flaky.upstream_rq_per_try_timeout') ?? 0) - (before.get('cluster.flaky.upstream_rq_per_try_timeout') ?? 0), 1);
    // Both tries slow: 504 UT once the retries ran out.
    const key2 = newKey();
    const r2 = await get(`${base}/pertry`, key2, 'slow,slow');
    assert.equal(r2.status, 504);
    assert.deepEqual((await logLine(key2)).slice(1), ['504', 'UT,URX', '2']);
  });

  it('per_try_idle_timeout: a try that stays silent is abandoned and retried', async () => {
    const before = await legate.statsMap();
    const key = newKey();
    const r = await get(`${base}/idle`, key, 'slow,200');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    const after = await legate.statsMap();
    assert.equal((after.get('cluster.flaky.upstream_rq_per_try_idle_timeout') ?? 0) - (before.get('cluster.flaky.upstream_rq_per_try_idle_timeout') ?? 0), 1);
  });

  it('connect-failure with previous_hosts: the host that refused is not picked again', async () => {
    for (let i = 0; i < 12; i++) {
      const key = newKey();
      const r = await get(`${base}/connect`, key, '200');
      assert.equal(r.status, 200, `request ${i}`);
      assert.equal(up.attempts(key), 1);
    }
  });

  it('gRPC: unavailable (grpc-status 14 in a trailers-only response) is retried, OK is forwarded', async () => {
    const key = newKey();
    const r = await get(`${base}/grpc`, key, '14,1,0', ['-X', 'POST', '-H', 'content-type: application/grpc', '--data-binary', 'msg']);
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers.get('grpc-status'), ['0']);
    assert.equal(grpcUp.attempts(key), 3);
    assert.deepEqual(grpcUp.seen.get(key)!.bodies, ['msg', 'msg', 'msg']);
    const key2 = newKey();
    const r2 = await get(`${base}/grpc`, key2, '13,0', ['-X', 'POST', '-H', 'content-type: application/grpc']);
    assert.deepEqual(r2.headers.get('grpc-status'), ['13'], 'internal is not in retry_on');
    assert.equal(grpcUp.attempts(key2), 1);
  });

  it('x-envoy-retry-on / x-envoy-max-retries from a trusted (internal) request; ignored from an external one', async () => {
    const key = newKey();
    const r = await get(`${base}/hdr`, key, '503,503,200', ['-H', 'x-envoy-retry-on: 5xx', '-H', 'x-envoy-max-retries: 2']);
    assert.equal(r.status, 200);
    assert.equal(up.attempts(key), 3);
    const key2 = newKey();
    const r2 = await get(`${externalBase}/hdr`, key2, '503,200', ['-H', 'x-envoy-retry-on: 5xx', '-H', 'x-envoy-max-retries: 2']);
    assert.equal(r2.status, 503);
    assert.equal(up.attempts(key2), 1);
    // x-envoy-retriable-status-codes and x-envoy-retriable-header-names.
    const key4 = newKey();
    const r4 = await get(`${base}/hdr`, key4, '418,200', ['-H', 'x-envoy-retry-on: retriable-status-codes', '-H', 'x-envoy-retriable-status-codes: 418', '-H', 'x-envoy-max-retries: 1']);
    assert.equal(r4.status, 200);
    const key5 = newKey();
    const r5 = await get(`${base}/hdr`, key5, '200,201', ['-H', 'x-envoy-retry-on: retriable-headers', '-H', 'x-envoy-retriable-header-names: x-attempt', '-H', 'x-envoy-max-retries: 1']);
    assert.equal(r5.status, 201);
    // x-envoy-upstream-rq-per-try-timeout-ms: a slow first try is cut short and retried.
    const key3 = newKey();
    const r3 = await get(`${base}/hdr`, key3, 'slow,200', ['-H', 'x-envoy-retry-on: 5xx', '-H', 'x-envoy-max-retries: 1', '-H', 'x-envoy-upstream-rq-per-try-timeout-ms: 300']);
    assert.equal(r3.status, 200);
    assert.equal(up.attempts(key3), 2);
  });
});

describe('retries: retry_on and the back-off', () => {
  it('parses retry_on as Envoy (HTTP and gRPC names; x-envoy-retry-grpc-on takes gRPC names only)', () => {
    assert.equal(parseRetryOn('5xx, reset ,unavailable', false, null), RetryOn.FIVE_XX | RetryOn.RESET | RetryOn.GRPC_UNAVAILABLE);
    assert.equal(parseRetryOn('5xx,cancelled', true, null), RetryOn.GRPC_CANCELLED);
    const unknown: string[] = [];
    assert.equal(parseRetryOn('bogus,gateway-error', false, unknown), RetryOn.GATEWAY_ERROR);
    assert.deepEqual(unknown, ['bogus']);
  });

  it('the n-th back-off is drawn below base × (2^n − 1), capped at max_interval', () => {
    assert.equal(jitteredBackoffMs(25, 250, 1, 0.999), 24);
    assert.equal(jitteredBackoffMs(25, 250, 2, 0.999), 74);
    assert.equal(jitteredBackoffMs(25, 250, 3, 0.999), 174);
    assert.equal(jitteredBackoffMs(25, 250, 4, 0.999), 249);
    assert.equal(jitteredBackoffMs(25, 250, 40, 0.5), 125);
    assert.equal(jitteredBackoffMs(25, 250, 1, 0), 0);
  });
});

describe('retries: config', () => {
  function compileOne(routeAction: string, vhost: string): { problems: { path: string; message: string }[]; policy: RetryPolicy | null } {
    const problems: { path: string; message: string }[] = [];
    const policy = compileRetryPolicy(JSON.parse(routeAction), 'r', JSON.parse(vhost), 'vh', problems);
    return { problems, policy };
  }

  it('compiles Envoy\'s defaults; the route\'s policy wins over the virtual host\'s, which its other routes inherit', () => {
    const d = compileOne('{"retry_policy":{"retry_on":"5xx"}}', '{}').policy!;
    assert.equal(d.numRetries, 1);
    assert.equal(d.baseIntervalMs, 25);
    assert.equal(d.maxIntervalMs, 250);
    assert.equal(compileOne('{}', '{}').policy, null);
    const vh = '{"retry_policy":{"retry_on":"reset","num_retries":4},"include_attempt_count_in_response":true}';
    const inherited = compileOne('{}', vh).policy!;
    assert.equal(inherited.retryOn, RetryOn.RESET);
    assert.equal(inherited.numRetries, 4);
    const own = compileOne('{"retry_policy":{"retry_on":"5xx"}}', vh).policy!;
    assert.equal(own.retryOn, RetryOn.FIVE_XX);
    assert.equal(own.includeAttemptCountInResponse, true);
    assert.equal(compileOne('{"hedge_policy":{"hedge_on_per_try_timeout":true}}', vh).policy!.hedgeOnPerTryTimeout, true);
    // Names Envoy ignores are ignored; Envoy's conditions Legate lacks are refused.
    assert.deepEqual(compileOne('{"retry_policy":{"retry_on":"5xx,nonsense"}}', '{}').problems, []);
    assert.match(compileOne('{"retry_policy":{"retry_on":"reset-before-request"}}', '{}').problems[0]!.message, /not supported yet/);
    assert.match(compileOne('{"hedge_policy":{"initial_requests":2}}', '{}').problems[0]!.message, /not supported yet/);
    assert.equal(compileOne('{"retry_policy":{"retry_host_predicate":[{"name":"envoy.retry_host_predicates.omit_canary_hosts"}]}}', '{}').problems[0]!.path,
      'r.retry_policy.retry_host_predicate[0].name');
  });

  it('refuses what is not supported yet, with its position', async () => {
    const port = await freePort();
    const cfg = bootstrap([hcmListener({
      name: 'l', port,
      routes: [retryRoute('/', 'c', '{ retry_on: "5xx", retry_priority: { name: envoy.retry_priorities.previous_priorities } }')],
    })], [cluster({ name: 'c', endpoints: [{ address: '127.0.0.1', port: 1 }] })]);
    const dir = tempDir('legate-retries-cfg-');
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, cfg);
    const { execFile } = await import('node:child_process');
    const { LEGATE_BIN } = await import('../support/legate-process.ts');
    const out = await new Promise<string>((resolve) => {
      execFile(LEGATE_BIN, ['--mode', 'validate', '-c', file], { timeout: 20_000 }, (_e, stdout, stderr) => resolve(stdout + stderr));
    });
    assert.match(out, /retry_priority/);
    assert.match(out, /not supported yet/);
  });
});
