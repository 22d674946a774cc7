// The dynamic forward proxy's per-worker DNS cache (workers/upstream/dns-cache.ts) and the aggregate cluster's
// member selection (workers/upstream/aggregate-cluster.ts), without a proxy around them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsCache, LoadDnsCacheEntryStatus, parseAuthority } from '../../workers/upstream/dns-cache.ts';
import { AggregateSelector } from '../../workers/upstream/aggregate-cluster.ts';
import type { WorkerCluster } from '../../workers/upstream/worker-cluster.ts';
import { waitUntil } from '../support/polling.ts';

const SETTINGS = { name: 'c', lookupFamily: 'V4_ONLY', refreshRateMs: 60_000, hostTtlMs: 100, maxHosts: 2, maxPendingRequests: 1 } as const;

test('authorities split into host and port, with the default port', () => {
  assert.deepEqual(parseAuthority('Example.com', 80), { host: 'example.com', port: 80 });
  assert.deepEqual(parseAuthority('example.com:8443', 80), { host: 'example.com', port: 8443 });
  assert.deepEqual(parseAuthority('[::1]:9000', 443), { host: '::1', port: 9000 });
  assert.deepEqual(parseAuthority('[::1]', 443), { host: '::1', port: 443 });
});

test('a host loads once, waits while resolving, leaves after host_ttl unused; limits on pending requests and hosts', async () => {
  const cache = new DnsCache(SETTINGS);
  cache.configure(SETTINGS, null, null);
  try {
    let done = 0;
    const first = cache.load('localhost', 80, () => done++);
    assert.equal(first.status, LoadDnsCacheEntryStatus.Loading);
    // max_pending_requests 1: a second request may not wait too.
    assert.equal(cache.canCreateDnsRequest(), false);
    await waitUntil(() => done === 1, () => 'localhost never resolved');
    assert.equal(first.info!.address, '127.0.0.1');
    assert.equal(cache.canCreateDnsRequest(), true);
    const again = cache.load('localhost', 80, () => assert.fail('in cache: no callback'));
    assert.equal(again.status, LoadDnsCacheEntryStatus.InCache);
    assert.equal(cache.load('127.0.0.1', 81, () => {}).status, LoadDnsCacheEntryStatus.Loading);
    // max_hosts 2.
    assert.equal(cache.load('127.0.0.1', 82, () => {}).status, LoadDnsCacheEntryStatus.Overflow);
    await waitUntil(() => cache.hosts.size === 0, () => `hosts never expired: ${[...cache.hosts.keys()].join(', ')}`);
  } finally {
    cache.close();
  }
});

function fakeCluster(name: string, hosts: { priority: number; healthy: boolean }[]): WorkerCluster {
  return { name, aggregate: null, allHosts: () => hosts } as unknown as WorkerCluster;
}

test('an aggregate sends everything to the first healthy member and spills by health', () => {
  const members = new Map<string, WorkerCluster>();
  let r = 0.5;
  const selector = new AggregateSelector(['p', 's'], 50, () => r);
  members.set('p', fakeCluster('p', [{ priority: 0, healthy: true }, { priority: 0, healthy: true }]));
  members.set('s', fakeCluster('s', [{ priority: 0, healthy: true }]));
  selector.rebuild((n) => members.get(n));
  r = 0.99;
  assert.equal(selector.choose()!.name, 'p');
  // Half of p healthy: 1.4 * 50 = 70% stays on p, 30% goes to s.
  members.set('p', fakeCluster('p', [{ priority: 0, healthy: true }, { priority: 0, healthy: false }]));
  selector.rebuild((n) => members.get(n));
  r = 0.69;
  assert.equal(selector.choose()!.name, 'p');
  r = 0.71;
  assert.equal(selector.choose()!.name, 's');
  // A missing member is skipped: p alone, all down, takes the load in panic mode.
  members.set('p', fakeCluster('p', [{ priority: 0, healthy: false }]));
  members.delete('s');
  selector.rebuild((n) => members.get(n));
  r = 0;
  assert.equal(selector.choose()!.name, 'p');
});
