// End to end: an HCM's internal_address_config decides which requests are internal (x-envoy-internal: true, their
// x-envoy-* headers kept) and which are external (those headers stripped). Absent, no address is internal (Envoy
// since 1.36); cidr_ranges replaces Envoy's private ranges, both for the peer (use_remote_address) and for the one
// x-forwarded-for address (use_remote_address false); a bad range is refused at load with its position.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LEGATE_BIN, startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';
import { compileInternalAddressConfig, InternalAddressMatcher } from '../../src/snapshot/internal-address.ts';

describe('internal_address_config: the matcher', () => {
  it('absent: nothing is internal; without cidr_ranges: Envoy\'s private ranges; with them: only those', () => {
    const problems: { path: string; message: string }[] = [];
    const absent = new InternalAddressMatcher(compileInternalAddressConfig(undefined, 'p', problems));
    assert.deepEqual(['10.1.2.3', '127.0.0.1', '::1'].map((ip) => absent.isInternal(ip)), [false, false, false]);
    const priv = new InternalAddressMatcher(compileInternalAddressConfig({}, 'p', problems));
    const ips = ['10.1.2.3', '172.16.0.1', '172.32.0.1', '192.168.9.9', '127.0.0.1', '127.0.0.2', '::1', 'fd12::1', 'fc00::1', '::ffff:10.0.0.1', '8.8.8.8', ''];
    assert.deepEqual(ips.map((ip) => priv.isInternal(ip)), [true, true, false, true, true, false, true, true, false, true, false, false]);
    const ranges = new InternalAddressMatcher(compileInternalAddressConfig({ unix_sockets: true, cidr_ranges: [{ address_prefix: '2001:db8::', prefix_len: 32 }, { address_prefix: '198.51.100.7', prefix_len: 24 }] }, 'p', problems));
    assert.deepEqual(['2001:db8::5', '2001:db9::5', '198.51.100.200', '10.0.0.1', ''].map((ip) => ranges.isInternal(ip)), [true, false, true, false, true]);
    assert.deepEqual(problems, []);
    compileInternalAddressConfig({ cidr_ranges: [{ address_prefix: 'nope', prefix_len: 8 }] }, 'hcm.internal_address_config', problems);
    assert.equal((problems as { path: string }[])[0]?.path, 'hcm.internal_address_config.cidr_ranges[0]');
  });
});

const STEERING = ['x-envoy-max-retries: 7', 'x-envoy-upstream-rq-timeout-ms: 5000', 'x-envoy-internal: true'];

describe('internal_address_config', () => {
  let legate: LegateProcess;
  let up: TestUpstream;

  before(async () => {
    up = await startUpstream('web');
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }];
    const edge = '          use_remote_address: true\n';
    legate = await startLegate({
      config: bootstrap([
        // No internal_address_config: even a loopback peer is external.
        hcmListener({ name: 'absent', routes, hcmExtra: edge }),
        // cidr_ranges without loopback: 127.0.0.1 is external.
        hcmListener({ name: 'doc', routes, hcmExtra: `${edge}          internal_address_config: { cidr_ranges: [{ address_prefix: 192.0.2.0, prefix_len: 24 }] }\n` }),
        // cidr_ranges naming loopback: 127.0.0.1 is internal.
        hcmListener({ name: 'loop', routes, hcmExtra: `${edge}          internal_address_config: { cidr_ranges: [{ address_prefix: 127.0.0.0, prefix_len: 8 }] }\n` }),
        // use_remote_address false: the one x-forwarded-for address is judged by the ranges (10/8 only).
        hcmListener({ name: 'xff', routes, hcmExtra: '          internal_address_config: { cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }] }\n' }),
      ], [cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: up.port }] })]),
      concurrency: 1,
    });
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  async function seen(listener: string, xff: string | null): Promise<Record<string, string>> {
    const port = await legate.listenerPort(listener);
    const args = [`http://127.0.0.1:${port}/echo`];
    for (const h of STEERING) args.push('-H', h);
    if (xff !== null) args.push('-H', `x-forwarded-for: ${xff}`);
    const r = await curl(args);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  }

  function assertExternal(h: Record<string, string>): void {
    assert.equal(h['x-envoy-internal'], undefined, 'not internal');
    assert.equal(h['x-envoy-max-retries'], undefined, 'x-envoy-max-retries from an external client is stripped');
    assert.equal(h['x-envoy-upstream-rq-timeout-ms'], undefined, 'x-envoy-upstream-rq-timeout-ms is stripped');
  }

  it('absent: a loopback peer is external (x-envoy-* stripped, x-envoy-external-address set)', async () => {
    const h = await seen('absent', null);
    assertExternal(h);
    assert.equal(h['x-envoy-external-address'], '127.0.0.1');
  });

  it('cidr_ranges without the peer: 127.0.0.1 is external', async () => {
    const h = await seen('doc', null);
    assertExternal(h);
    assert.equal(h['x-envoy-external-address'], '127.0.0.1');
  });

  it('cidr_ranges with the peer: 127.0.0.1 is internal and keeps its x-envoy-* headers', async () => {
    const h = await seen('loop', null);
    assert.equal(h['x-envoy-internal'], 'true');
    assert.equal(h['x-envoy-max-retries'], '7');
    assert.equal(h['x-envoy-external-address'], undefined);
  });

  it('use_remote_address false: x-forwarded-for 10.x is internal by the ranges, 192.168.x (private but not listed) is not', async () => {
    const inside = await seen('xff', '10.20.30.40');
    assert.equal(inside['x-envoy-internal'], 'true');
    assert.equal(inside['x-envoy-max-retries'], '7');
    assertExternal(await seen('xff', '192.168.1.1'));
    assertExternal(await seen('xff', null));
  });

  it('a range that is not a CIDR is refused at load with its position', () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, bootstrap([
      hcmListener({ name: 'bad', routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: web }' }], hcmExtra: '          internal_address_config: { cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 40 }] }\n' }),
    ], [cluster({ name: 'web', endpoints: [{ address: '127.0.0.1', port: 1 }] })]));
    const r = spawnSync(LEGATE_BIN, ['--mode', 'validate', '-c', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /internal_address_config\.cidr_ranges\[0\]/);
    assert.match(r.stderr, /prefix_len 40 is out of range/);
  });
});
