// Unit: which xDS sets take the EDS fast path (src/xds/endpoint-update.ts), and what a Secret is refused for when
// it arrives (src/xds/secret-check.ts).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointOnlyChange } from '../../src/xds/endpoint-update.ts';
import { secretProblems } from '../../src/xds/secret-check.ts';
import type { DynamicResourceSet, XdsResource } from '../../src/xds/resource-types.ts';

type Obj = Record<string, unknown>;
const res = (name: string, value: Obj): XdsResource => ({ name, version: '1', value, lastUpdatedMs: 0 });
const cla = (name: string, port: number): XdsResource => res(name, {
  cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
});
const edsCluster = (name: string, timeout = 1): XdsResource => res(name, { name, type: 'EDS', connect_timeout: timeout * 1000, eds_cluster_config: { eds_config: { ads: {} } } });

function set(clusters: XdsResource[], endpoints: XdsResource[]): DynamicResourceSet {
  return { listeners: [], clusters, routes: [], endpoints, secrets: [], versions: { cds: '', eds: '', lds: '', rds: '', sds: '' } };
}

describe('xds: EDS-only changes', () => {
  it('names the CDS clusters whose endpoints changed, as STATIC clusters with the new load_assignment', () => {
    const prev = set([edsCluster('a'), edsCluster('b')], [cla('a', 1), cla('b', 2)]);
    const next = set([edsCluster('a'), edsCluster('b')], [cla('a', 1), cla('b', 3)]);
    const out = endpointOnlyChange(prev, next);
    assert.ok(out !== null);
    assert.deepEqual([...out.keys()], ['b']);
    const b = out.get('b')!;
    assert.equal(b['type'], 'STATIC');
    assert.equal(b['eds_cluster_config'], undefined);
    assert.deepEqual((b['load_assignment'] as Obj)['endpoints'], (cla('b', 3).value as Obj)['endpoints']);
  });

  it('takes the full path for a first set, a cluster change, no change, or endpoints no CDS cluster uses', () => {
    const base = set([edsCluster('a')], [cla('a', 1)]);
    assert.equal(endpointOnlyChange(null, base), null);
    assert.equal(endpointOnlyChange(base, set([edsCluster('a', 2)], [cla('a', 2)])), null);
    assert.equal(endpointOnlyChange(base, set([edsCluster('a')], [cla('a', 1)])), null);
    assert.equal(endpointOnlyChange(base, set([edsCluster('a')], [cla('a', 1), cla('static_one', 5)])), null);
  });
});

describe('xds: Secret checks', () => {
  it('refuses PEM that does not parse and keys that do not load, without echoing the key', () => {
    const p = secretProblems({ name: 's', tls_certificate: { certificate_chain: { inline_string: 'nope' }, private_key: { inline_string: 'SECRET-KEY-TEXT' } } });
    assert.deepEqual(p.map((x) => x.path), ['tls_certificate.certificate_chain', 'tls_certificate.private_key']);
    assert.match(p[0]!.message, /not a PEM certificate/);
    assert.ok(!p[1]!.message.includes('SECRET-KEY-TEXT'));
    assert.match(secretProblems({ name: 's' })[0]!.message, /needs tls_certificate or validation_context/);
    assert.match(secretProblems({ name: 's', validation_context: { trusted_ca: { inline_string: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' } } })[0]!.message, /certificate 1 does not parse/);
  });
});
