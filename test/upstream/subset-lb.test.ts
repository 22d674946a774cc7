// Unit: the subset index (workers/upstream/subset-lb.ts) and lb_subset_config / metadata_match compilation:
// subsets by selector keys, list_as_any, single_host_per_subset, the selector and cluster fallback policies,
// panic_mode_any, the lb_subsets_* stats across rebuilds, and what the compiler refuses.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SubsetLoadBalancer, type SubsetPicker, type SubsetStats } from '../../workers/upstream/subset-lb.ts';
import { compileSubsetConfig, type CompiledSubsetConfig, type SubsetProblem } from '../../src/upstream/subset-config.ts';
import { compileMetadataMatch, mergeMetadataMatch, type MetadataMatch } from '../../src/router/metadata-match.ts';
import { compileCluster } from '../../src/upstream/cluster-config.ts';

interface H {
  name: string;
  md?: Record<string, unknown>;
}

/** Round robin over a list (what the worker's levels do for equal weights), or null when empty. */
class ListPicker implements SubsetPicker<H> {
  readonly hosts: readonly H[];
  private next = 0;
  constructor(hosts: readonly H[]) {
    this.hosts = hosts;
  }
  chooseHost(): H | null {
    if (this.hosts.length === 0) return null;
    const h = this.hosts[this.next % this.hosts.length]!;
    this.next++;
    return h;
  }
}

const SLOTS = ['lb_subsets_active', 'lb_subsets_created', 'lb_subsets_removed', 'lb_subsets_selected', 'lb_subsets_fallback', 'lb_subsets_fallback_panic', 'lb_subsets_single_host_per_subset_duplicate'] as const;

function statsOf(values: number[]): SubsetStats {
  const s: Record<string, unknown> = { values };
  SLOTS.forEach((name, i) => {
    s[name] = i;
  });
  return s as unknown as SubsetStats;
}

function stat(values: number[], name: (typeof SLOTS)[number]): number {
  return values[SLOTS.indexOf(name)]!;
}

function config(raw: Record<string, unknown>): CompiledSubsetConfig {
  const problems: SubsetProblem[] = [];
  const c = compileSubsetConfig({ lb_subset_config: raw }, 'c', problems);
  assert.deepEqual(problems, []);
  return c!;
}

function match(criteria: Record<string, unknown>): MetadataMatch {
  return compileMetadataMatch({ filter_metadata: { 'envoy.lb': criteria } }, 'm', [])!;
}

function build(cfg: CompiledSubsetConfig, hosts: H[], values: number[], previous: SubsetLoadBalancer<H> | null = null): SubsetLoadBalancer<H> {
  return new SubsetLoadBalancer<H>(cfg, hosts, (h) => h.md, (list) => new ListPicker(list), new ListPicker(hosts), statsOf(values), previous);
}

function names(lb: SubsetLoadBalancer<H>, m: MetadataMatch | null, n = 8): string[] {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add(lb.chooseHost(m, null, 0)?.name ?? 'none');
  return [...out].sort();
}

const HOSTS: H[] = [
  { name: 'a', md: { version: 'v1', stage: 'prod' } },
  { name: 'b', md: { version: 'v1', stage: 'canary' } },
  { name: 'c', md: { version: 'v2', stage: 'prod' } },
  { name: 'd', md: { version: 'v2', stage: 'canary' } },
  { name: 'e' },
];

describe('subset index', () => {
  it('divides hosts by each selector\'s keys and finds a subset by the route\'s criteria', () => {
    const values = new Array(7).fill(0);
    const lb = build(config({ subset_selectors: [{ keys: ['version'] }, { keys: ['stage', 'version'] }] }), HOSTS, values);
    assert.equal(lb.activeSubsets, 6);
    assert.deepEqual(names(lb, match({ version: 'v1' })), ['a', 'b']);
    assert.deepEqual(names(lb, match({ stage: 'canary', version: 'v2' })), ['d']);
    // Criteria in any order give the same subset; a number is not the string of it.
    assert.deepEqual(names(lb, match({ version: 'v2', stage: 'canary' })), ['d']);
    assert.deepEqual(names(lb, match({ version: 1 })), ['none']);
    assert.equal(stat(values, 'lb_subsets_active'), 6);
    assert.equal(stat(values, 'lb_subsets_created'), 6);
    assert.ok(stat(values, 'lb_subsets_selected') >= 24);
  });

  it('cluster fallback: NO_FALLBACK none, ANY_ENDPOINT every host, DEFAULT_SUBSET the default subset', () => {
    const sel = [{ keys: ['version'] }];
    const none = build(config({ subset_selectors: sel }), HOSTS, new Array(7).fill(0));
    assert.deepEqual(names(none, match({ version: 'v3' })), ['none']);
    assert.deepEqual(names(none, null), ['none']);
    const values = new Array(7).fill(0);
    const any = build(config({ fallback_policy: 'ANY_ENDPOINT', subset_selectors: sel }), HOSTS, values);
    assert.deepEqual(names(any, match({ version: 'v3' }), 10), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(stat(values, 'lb_subsets_fallback'), 10);
    const def = build(config({ fallback_policy: 'DEFAULT_SUBSET', default_subset: { version: 'v2' }, subset_selectors: sel }), HOSTS, new Array(7).fill(0));
    assert.deepEqual(names(def, null), ['c', 'd']);
    assert.deepEqual(names(def, match({ version: 'v3' })), ['c', 'd']);
  });

  it('selector fallback policies override the cluster\'s; KEYS_SUBSET retries with fewer keys', () => {
    const lb = build(config({
      fallback_policy: 'ANY_ENDPOINT',
      subset_selectors: [
        { keys: ['version'] },
        { keys: ['stage'], fallback_policy: 'NO_FALLBACK' },
        { keys: ['version', 'stage'], fallback_policy: 'KEYS_SUBSET', fallback_keys_subset: ['version'] },
        { keys: ['zone'], fallback_policy: 'DEFAULT_SUBSET' },
      ],
      default_subset: { stage: 'canary' },
    }), HOSTS, new Array(7).fill(0));
    assert.deepEqual(names(lb, match({ stage: 'qa' })), ['none']);
    assert.deepEqual(names(lb, match({ version: 'v1', stage: 'qa' })), ['a', 'b']);
    // KEYS_SUBSET down to a version without a subset: that key set's fallback (the cluster's ANY_ENDPOINT).
    assert.deepEqual(names(lb, match({ version: 'v9', stage: 'qa' }), 10), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(names(lb, match({ zone: 'z' })), ['b', 'd']);
  });

  it('list_as_any puts a host in a subset per list element; single_host_per_subset keeps one and counts the rest', () => {
    const hosts: H[] = [{ name: 'x', md: { version: ['v1', 'v2'] } }, { name: 'y', md: { version: 'v1' } }];
    const asAny = build(config({ list_as_any: true, subset_selectors: [{ keys: ['version'] }] }), hosts, new Array(7).fill(0));
    assert.deepEqual(names(asAny, match({ version: 'v2' })), ['x']);
    assert.deepEqual(names(asAny, match({ version: 'v1' })), ['x', 'y']);
    const plain = build(config({ subset_selectors: [{ keys: ['version'] }] }), hosts, new Array(7).fill(0));
    assert.deepEqual(names(plain, match({ version: 'v2' })), ['none']);
    assert.deepEqual(names(plain, match({ version: ['v1', 'v2'] })), ['x']);
    const values = new Array(7).fill(0);
    const single = build(config({ subset_selectors: [{ keys: ['version'], single_host_per_subset: true }] }), HOSTS, values);
    assert.deepEqual(names(single, match({ version: 'v1' })), ['a']);
    assert.equal(stat(values, 'lb_subsets_single_host_per_subset_duplicate'), 2);
  });

  it('panic_mode_any: an empty default subset falls to any host, counted', () => {
    const values = new Array(7).fill(0);
    const lb = build(config({ fallback_policy: 'DEFAULT_SUBSET', default_subset: { version: 'v9' }, panic_mode_any: true, subset_selectors: [{ keys: ['version'] }] }), HOSTS, values);
    assert.equal(names(lb, null, 5).length, 5);
    assert.equal(stat(values, 'lb_subsets_fallback_panic'), 5);
  });

  it('a rebuild counts the subsets created and removed; the gauge follows', () => {
    const values = new Array(7).fill(0);
    const cfg = config({ subset_selectors: [{ keys: ['version'] }] });
    const first = build(cfg, HOSTS, values);
    assert.equal(stat(values, 'lb_subsets_active'), 2);
    const moved: H[] = [{ name: 'a', md: { version: 'v3' } }, { name: 'c', md: { version: 'v2' } }];
    const second = build(cfg, moved, values, first);
    assert.equal(stat(values, 'lb_subsets_active'), 2);
    assert.equal(stat(values, 'lb_subsets_created'), 3);
    assert.equal(stat(values, 'lb_subsets_removed'), 1);
    assert.deepEqual(names(second, match({ version: 'v3' })), ['a']);
    second.retire();
    assert.equal(stat(values, 'lb_subsets_active'), 0);
  });
});

describe('lb_subset_config and metadata_match compilation', () => {
  it('refuses what is not supported yet and bad selectors, with positions', () => {
    const problems: SubsetProblem[] = [];
    compileSubsetConfig({ lb_subset_config: {
      locality_weight_aware: true, metadata_fallback_policy: 'FALLBACK_LIST',
      subset_selectors: [{ keys: ['a', 'b'], fallback_policy: 'KEYS_SUBSET', fallback_keys_subset: ['c'] }, { keys: [] }],
    } }, 'clusters[0]', problems);
    const paths = problems.map((p) => p.path);
    assert.ok(paths.includes('clusters[0].lb_subset_config.locality_weight_aware'));
    assert.ok(paths.includes('clusters[0].lb_subset_config.metadata_fallback_policy'));
    assert.ok(paths.includes('clusters[0].lb_subset_config.subset_selectors[0].fallback_keys_subset'));
    assert.ok(paths.includes('clusters[0].lb_subset_config.subset_selectors[1].keys'));
  });

  it('a cluster compiles its subsets and its endpoints\' envoy.lb metadata', () => {
    const r = compileCluster({
      name: 'c', lb_subset_config: { subset_selectors: [{ keys: ['version'] }] },
      load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } }, metadata: { filter_metadata: { 'envoy.lb': { version: 'v1' } } } }] }] },
    }, 'clusters[0]');
    assert.deepEqual(r.problems, []);
    assert.equal(r.cluster!.subset!.selectors[0]!.keySet, 'version');
    assert.deepEqual(r.cluster!.endpoints[0]!.lbMetadata, { version: 'v1' });
  });

  it('a weighted cluster entry\'s criteria win over the route\'s per key', () => {
    const merged = mergeMetadataMatch(match({ version: 'v1', stage: 'canary' }), match({ stage: 'prod' }))!;
    assert.equal(merged.key, match({ stage: 'prod', version: 'v1' }).key);
    assert.equal(compileMetadataMatch({ filter_metadata: { other: { a: 1 } } }, 'm', []), null);
  });
});
