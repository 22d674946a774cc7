// End to end: DNS clusters (STRICT_DNS, LOGICAL_DNS), a cluster with no hosts (503 UH), the connection manager's
// stream idle and request timeouts, and the response flags each failure records in the access log.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, rawExchange, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

describe('clusters and timeouts', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  let port: number;
  let timeoutsPort: number;
  let routeIdlePort: number;
  let logFile: string;

  before(async () => {
    up = await startUpstream('dns');
    logFile = path.join(tempDir(), 'access.log');
    const accessLog = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logFile}
              log_format:
                text_format_source:
                  inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%\\n"
`;
    const main = hcmListener({
      name: 'main',
      hcmExtra: accessLog,
      routes: [
        { match: '{ prefix: "/strict" }', action: 'route: { cluster: strict_dns }' },
        { match: '{ prefix: "/logical" }', action: 'route: { cluster: logical_dns }' },
        { match: '{ prefix: "/nohosts" }', action: 'route: { cluster: unresolvable }' },
      ],
    });
    const timeouts = hcmListener({
      name: 'timeouts',
      hcmExtra: `${accessLog}          stream_idle_timeout: 0.3s\n          request_timeout: 0.6s\n`,
      routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: strict_dns }' }],
    });
    const routeIdle = hcmListener({
      name: 'routeidle',
      hcmExtra: '          stream_idle_timeout: 0.2s\n',
      routes: [
        { match: '{ prefix: "/patient" }', action: 'route: { cluster: strict_dns, idle_timeout: 30s }' },
        { match: '{ prefix: "/" }', action: 'route: { cluster: strict_dns }' },
      ],
    });
    const dns = 'dns_lookup_family: V4_ONLY\n    dns_refresh_rate: 1s\n';
    const clusters = [
      cluster({ name: 'strict_dns', type: 'STRICT_DNS', extra: `    ${dns}`, endpoints: [{ address: 'localhost', port: up.port }] }),
      cluster({ name: 'logical_dns', type: 'LOGICAL_DNS', extra: `    ${dns}`, endpoints: [{ address: 'localhost', port: up.port }] }),
      cluster({ name: 'unresolvable', type: 'STRICT_DNS', extra: `    ${dns}`, endpoints: [{ address: 'no-such-host.invalid', port: 80 }] }),
    ];
    legate = await startLegate({ config: bootstrap([main, timeouts, routeIdle], clusters), concurrency: 2 });
    port = await legate.listenerPort('main');
    timeoutsPort = await legate.listenerPort('timeouts');
    routeIdlePort = await legate.listenerPort('routeidle');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('routes through STRICT_DNS and LOGICAL_DNS clusters resolved with getaddrinfo', async () => {
    const strict = await curl([`http://127.0.0.1:${port}/strict/echo`]);
    assert.equal(strict.status, 200);
    assert.equal(strict.body, 'hello from dns');
    assert.equal(up.seen.at(-1)?.url, '/strict/echo');
    const logical = await curl([`http://127.0.0.1:${port}/logical/echo`]);
    assert.equal(logical.status, 200);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.strict_dns.membership_total'), 1);
    assert.equal(stats.get('cluster.strict_dns.membership_healthy'), 1);
    assert.ok((stats.get('cluster.strict_dns.update_success') ?? 0) >= 1, 'a DNS resolution succeeded');
    assert.equal(stats.get('cluster.logical_dns.upstream_rq_2xx'), 1);
  });

  it('answers 503 "no healthy upstream" (UH) for a cluster whose name does not resolve', async () => {
    const r = await curl([`http://127.0.0.1:${port}/nohosts`]);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster.unresolvable.membership_total'), 0);
    assert.equal(stats.get('cluster.unresolvable.upstream_cx_none_healthy'), 1);
    assert.equal(up.seen.filter((s) => s.url.startsWith('/nohosts')).length, 0);
  });

  it('stream_idle_timeout answers 408 to a request whose body stalls', async () => {
    const { data } = await rawExchange(timeoutsPort, 'POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 10\r\n\r\nab', 5000);
    assert.match(data, /^HTTP\/1\.1 408 /);
    assert.match(data, /stream timeout/);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.timeouts.downstream_rq_idle_timeout'), 1);
  });

  it('request_timeout answers 408 to a request that keeps trickling past it', async () => {
    const net = await import('node:net');
    const data = await new Promise<string>((resolve) => {
      let out = '';
      const s = net.connect(timeoutsPort, '127.0.0.1', () => {
        s.write('POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n');
        // One byte every 100 ms keeps the stream from going idle; the whole request takes longer than 0.6 s.
        const timer = setInterval(() => s.write('x'), 100);
        s.on('close', () => {
          clearInterval(timer);
          resolve(out);
        });
      });
      s.setEncoding('latin1');
      s.on('data', (d: string) => (out += d));
      s.on('error', () => undefined);
      setTimeout(() => s.destroy(), 4000);
    });
    assert.match(data, /^HTTP\/1\.1 408 /);
    assert.match(data, /request timeout/);
    const stats = await legate.statsMap();
    assert.equal(stats.get('http.timeouts.downstream_rq_timeout'), 1);
  });

  it('records the response flags of each failure in the access log', async () => {
    let lines: string[] = [];
    for (let i = 0; i < 50; i++) {
      lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n') : [];
      if (lines.length >= 5) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(lines.includes('/strict/echo 200 - strict_dns'), lines.join('\n'));
    assert.ok(lines.includes('/nohosts 503 UH unresolvable'), lines.join('\n'));
    assert.ok(lines.some((l) => /^\/echo 408 SI strict_dns$/.test(l)), lines.join('\n'));
  });

  it("a route's idle_timeout replaces the connection manager's stream_idle_timeout", async () => {
    const net = await import('node:net');
    const stalled = (path: string): Promise<string> =>
      new Promise((resolve) => {
        let out = '';
        const s = net.connect(routeIdlePort, '127.0.0.1', () => {
          s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\ncontent-length: 4\r\nconnection: close\r\n\r\nab`);
          // Stalls well past the connection manager's 0.2 s, then finishes the body.
          setTimeout(() => s.write('cd'), 800);
        });
        s.setEncoding('latin1');
        s.on('data', (d: string) => (out += d));
        s.on('close', () => resolve(out));
        s.on('error', () => undefined);
      });
    const patient = await stalled('/patient');
    assert.match(patient, /^HTTP\/1\.1 200 /);
    const impatient = await stalled('/other');
    assert.match(impatient, /^HTTP\/1\.1 408 /);
  });
});
