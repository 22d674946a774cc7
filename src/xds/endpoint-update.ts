// Primary thread (pure). Whether an xDS set differs from the one applied only in endpoints (EDS) of clusters that
// came over CDS: then the primary pushes new host sets to the running clusters (as it does for DNS clusters)
// instead of compiling and distributing a whole snapshot. Anything else (a listener, cluster, route table or secret
// changed, an EDS resource a static cluster uses) takes the full path.

import { edsNameOf, resolveCluster, resolveSecrets } from './merge-resources.ts';
import type { DynamicResourceSet, XdsResource } from './resource-types.ts';

type Obj = Record<string, unknown>;

function sameResources(a: readonly XdsResource[] | undefined, b: readonly XdsResource[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  const byName = new Map(x.map((r) => [r.name, r]));
  for (const r of y) {
    const o = byName.get(r.name);
    if (o === undefined) return false;
    if (o.value !== r.value && JSON.stringify(o.value) !== JSON.stringify(r.value)) return false;
  }
  return true;
}

/**
 * The clusters to update (name -> the cluster as the compiler reads it, STATIC with its new load_assignment) when
 * `next` changes only endpoints of CDS clusters relative to `prev`; null when the change needs a full compile.
 */
export function endpointOnlyChange(prev: DynamicResourceSet | null, next: DynamicResourceSet): Map<string, Obj> | null {
  if (prev === null) return null;
  if (!sameResources(prev.listeners, next.listeners) || !sameResources(prev.clusters, next.clusters)) return null;
  if (!sameResources(prev.routes, next.routes) || !sameResources(prev.secrets, next.secrets)) return null;
  const before = new Map(prev.endpoints.map((r) => [r.name, r]));
  const after = new Map(next.endpoints.map((r) => [r.name, r]));
  const changed = new Set<string>();
  for (const [n, r] of after) {
    const o = before.get(n);
    if (o === undefined || (o.value !== r.value && JSON.stringify(o.value) !== JSON.stringify(r.value))) changed.add(n);
  }
  for (const n of before.keys()) if (!after.has(n)) changed.add(n);
  if (changed.size === 0) return null;
  const endpoints = new Map(next.endpoints.map((r) => [r.name, r.value as Obj]));
  const secrets = new Map((next.secrets ?? []).map((r) => [r.name, r.value as Obj]));
  const out = new Map<string, Obj>();
  const used = new Set<string>();
  for (const c of next.clusters) {
    const service = edsNameOf(c.value as Obj);
    if (service === undefined || !changed.has(service)) continue;
    used.add(service);
    out.set(c.name, resolveSecrets(resolveCluster(c.value as Obj, endpoints), secrets));
  }
  // An EDS resource no CDS cluster uses belongs to a static cluster: the full path.
  for (const n of changed) if (!used.has(n)) return null;
  return out;
}
