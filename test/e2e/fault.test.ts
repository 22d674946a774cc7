// End to end: envoy.filters.http.fault through bin/legate (one worker: max_active_faults counts per worker) with real
// upstreams: the corpus's fault-injection example (its runtime layer left out), fixed and header-controlled aborts
// (HTTP and gRPC) and delays, percentages, `headers` and upstream_cluster matching, per-route HTTPFault, response
// flags FI/DI and details in the access log, stats, max_active_faults, and a delayed request whose client leaves
// never reaching the upstream. The percentage arithmetic: test/filters/fault-config.test.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startLegate, freePort, tempDir, ROOT, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, filter, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { RecordingUpstream } from '../support/recording-upstream.ts';
import { curl, type CurlResult } from '../support/curl.ts';
import { waitUntil } from '../support/polling.ts';

const EXAMPLE = path.resolve(ROOT, '../shared/compat/envoy-configs/envoyproxy-examples__fault-injection-envoy.yaml');
const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

describe('fault: the corpus example (fault-injection/envoy.yaml)', { skip: fs.existsSync(EXAMPLE) ? false : `no corpus at ${EXAMPLE}` }, () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let base: string;

  before(async () => {
    up = await startUpstream('fault-backend');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Its percentages come from a runtime disk layer (not supported yet): the layer is left out and the abort's
    // numerator set to 100, as the example's runtime file does to turn aborts on.
    const text = fs.readFileSync(EXAMPLE, 'utf8');
    const yaml = text.slice(0, text.indexOf('layered_runtime:'))
      .replace('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace('port_value: 9211', `port_value: ${port}`)
      .replace('type: STRICT_DNS', 'type: STATIC')
      .replace('address: backend', 'address: 127.0.0.1')
      .replace('port_value: 80', `port_value: ${up.port}`)
      .replace(/(http_status: 503\n\s+percentage:\n\s+numerator: )0/, '$1100')
      + `admin:\n  address:\n    socket_address: { address: 127.0.0.1, port_value: 0 }\n`;
    legate = await startLegate({ config: yaml, concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('aborts every request with 503 "fault filter abort", never delays (0%), counts it', async () => {
    const r = await curl([`${base}/`]);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'fault filter abort');
    assert.equal(up.seen.length, 0);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.ingress_http.fault.aborts_injected'), 1);
    assert.equal(stats.get('http.ingress_http.fault.delays_injected'), 0);
    await waitUntil(() => /"GET \/ HTTP\/1\.1" 503 FI /.test(legate.stdout), () => `the abort in the access log, got ${legate.stdout}`);
  });
});

describe('fault filter', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let rec: RecordingUpstream;
  let port: number;
  let base: string;
  let logPath: string;

  before(async () => {
    up = await startUpstream('fault');
    rec = await new RecordingUpstream().listen();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    logPath = path.join(tempDir(), 'access.log');
    const perRoute = (fields: string): string => `route: { cluster: backend }\n                typed_per_filter_config:\n                  fault: { "@type": ${FAULT}, ${fields} }`;
    const routes = [
      { match: '{ prefix: "/fixed" }', action: perRoute('abort: { http_status: 418, percentage: { numerator: 100 } }') },
      { match: '{ prefix: "/never" }', action: perRoute('abort: { http_status: 418, percentage: { numerator: 0 } }') },
      { match: '{ prefix: "/grpc" }', action: perRoute('abort: { grpc_status: 14, percentage: { numerator: 1000000, denominator: MILLION } }') },
      { match: '{ prefix: "/matched" }', action: perRoute('abort: { http_status: 451, percentage: { numerator: 100 } }, headers: [{ name: x-fault-me, present_match: true }]') },
      { match: '{ prefix: "/nodes" }', action: perRoute('abort: { http_status: 409, percentage: { numerator: 100 } }, downstream_nodes: [node-a, node-b]') },
      { match: '{ prefix: "/other-cluster" }', action: perRoute('abort: { http_status: 500, percentage: { numerator: 100 } }, upstream_cluster: recording') },
      { match: '{ prefix: "/delay-then-abort" }', action: perRoute('delay: { fixed_delay: 0.05s, percentage: { numerator: 100 } }, abort: { http_status: 502, percentage: { numerator: 100 } }') },
      { match: '{ prefix: "/rec" }', action: 'route: { cluster: recording }' },
      { match: '{ prefix: "/" }', action: 'route: { cluster: backend }' },
    ];
    const listener = hcmListener({
      name: 'fault', port, routes,
      hcmExtra: `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n" }
`,
      httpFilters: filter('fault', FAULT, `              max_active_faults: 1
              abort: { header_abort: {}, percentage: { numerator: 100 } }
              delay: { header_delay: {}, percentage: { numerator: 100 } }
`),
    });
    const clusters = [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] }),
      cluster({ name: 'recording', endpoints: [{ address: '127.0.0.1', port: rec.port }] }),
    ];
    legate = await startLegate({ config: bootstrap([listener], clusters), concurrency: 1 });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
    await rec?.close();
    fs.rmSync(path.dirname(logPath), { recursive: true, force: true });
  });

  async function logLine(pathPrefix: string): Promise<string> {
    const re = new RegExp(`^${pathPrefix}\\S* .*$`, 'm');
    await waitUntil(() => fs.existsSync(logPath) && re.test(fs.readFileSync(logPath, 'utf8')), () => `${pathPrefix} in the access log`);
    return re.exec(fs.readFileSync(logPath, 'utf8'))![0];
  }

  async function gauge(name: string): Promise<number> {
    return (await legate.statsMap()).get(name) ?? -1;
  }

  it('a fixed abort answers locally with FI and fault_filter_abort; 0% never aborts', async () => {
    const r = await curl([`${base}/fixed`]);
    assert.equal(r.status, 418);
    assert.equal(r.body, 'fault filter abort');
    assert.equal(up.seen.filter((s) => s.url === '/fixed').length, 0);
    assert.equal(await logLine('/fixed'), '/fixed 418 FI fault_filter_abort');
    assert.equal((await curl([`${base}/never`])).status, 200);
  });

  it('a gRPC status abort answers HTTP 200 with grpc-status', async () => {
    const r = await curl([`${base}/grpc`, '-H', 'content-type: application/grpc']);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'grpc-status'), '14');
  });

  it('header_abort: x-envoy-fault-abort-request (in [200, 600)), its percentage header, and the gRPC header', async () => {
    const a = await curl([`${base}/h1`, '-H', 'x-envoy-fault-abort-request: 429']);
    assert.equal(a.status, 429);
    assert.equal(a.body, 'fault filter abort');
    assert.equal((await curl([`${base}/h2`, '-H', 'x-envoy-fault-abort-request: 429', '-H', 'x-envoy-fault-abort-request-percentage: 0'])).status, 200);
    assert.equal((await curl([`${base}/h3`, '-H', 'x-envoy-fault-abort-request: 700'])).status, 200);
    assert.equal((await curl([`${base}/h4`])).status, 200);
    const g = await curl([`${base}/h5`, '-H', 'content-type: application/grpc', '-H', 'x-envoy-fault-abort-grpc-request: 7']);
    assert.equal(g.status, 200);
    assert.equal(header(g, 'grpc-status'), '7');
    assert.deepEqual(up.seen.filter((s) => /^\/h\d/.test(s.url)).map((s) => s.url), ['/h2', '/h3', '/h4']);
  });

  it('headers, upstream_cluster and downstream_nodes limit which requests are faulted', async () => {
    assert.equal((await curl([`${base}/matched`])).status, 200);
    assert.equal((await curl([`${base}/matched`, '-H', 'x-fault-me: 1'])).status, 451);
    assert.equal((await curl([`${base}/other-cluster`])).status, 200);
    assert.equal((await curl([`${base}/nodes`, '-H', 'x-envoy-downstream-service-node: node-b'])).status, 409);
    assert.equal((await curl([`${base}/nodes`, '-H', 'x-envoy-downstream-service-node: node-c'])).status, 200);
    assert.equal((await curl([`${base}/nodes`])).status, 200);
  });

  it('header_delay holds the request on a timer (DI), then it goes upstream; a delay can be followed by an abort', async () => {
    const r = await curl([`${base}/delayed`, '-H', 'x-envoy-fault-delay-request: 100']);
    assert.equal(r.status, 200);
    assert.equal(up.seen.filter((s) => s.url === '/delayed').length, 1);
    assert.equal(await logLine('/delayed'), '/delayed 200 DI via_upstream');
    const d = await curl([`${base}/delay-then-abort`]);
    assert.equal(d.status, 502);
    assert.equal(await logLine('/delay-then-abort'), '/delay-then-abort 502 DI,FI fault_filter_abort');
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.fault.fault.delays_injected'), 2);
    assert.ok((stats.get('http.fault.fault.aborts_injected') ?? 0) >= 5);
    assert.equal(stats.get('http.fault.fault.active_faults'), 0);
  });

  it('max_active_faults: while one fault is active another is not injected (faults_overflow); a delayed request whose client leaves never reaches the upstream', async () => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      sock.write('GET /rec/gone HTTP/1.1\r\nhost: x\r\nx-envoy-fault-delay-request: 1500\r\n\r\n');
      await waitUntil(async () => (await gauge('http.fault.fault.active_faults')) === 1, () => 'the delayed request to be active');
      // The only fault allowed is taken: this abort is not injected.
      const r = await curl([`${base}/overflow`, '-H', 'x-envoy-fault-abort-request: 503']);
      assert.equal(r.status, 200);
      assert.equal(await gauge('http.fault.fault.faults_overflow'), 1);
    } finally {
      // A reset, not a FIN: a FIN after a complete HTTP/1.1 request still waits for its response.
      sock.resetAndDestroy();
    }
    await waitUntil(async () => (await gauge('http.fault.fault.active_faults')) === 0, () => 'the fault released when the client left');
    // Past the time its delay would have ended: the upstream never got it.
    await new Promise((r) => setTimeout(r, 1800));
    assert.equal(rec.count('/rec/gone'), 0);
    assert.equal(await logLine('/rec/gone'), '/rec/gone 0 DI,DC -');
  });
});

describe('fault filter: config checks', () => {
  it('refuses response_rate_limit as not supported yet, with its position', async () => {
    const port = await freePort();
    const listener = hcmListener({ name: 'bad', port, routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200 }' }], httpFilters: filter('fault', FAULT, `              response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } }
`) });
    const legate = await startLegate({ config: bootstrap([listener], []), concurrency: 1, waitReady: false });
    const code = await Promise.race([legate.waitExit(), new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    if (code === -1) await legate.stop('SIGKILL');
    assert.notEqual(code, 0);
    assert.match(legate.stderr, /not supported yet: .*response_rate_limit.*\(line \d+\)/);
  });
});
