// Primary thread (pure). The one line a reload logs about what it changed: listeners, clusters and route
// configurations added, changed and removed, by name, compared on the normalized bootstrap (what the operator
// wrote, not what it compiled to, so a change is reported where it was made).

type Obj = Record<string, unknown>;

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** name -> canonical JSON of the resource; unnamed entries are keyed by their index. */
function byName(entries: unknown[], kind: string): Map<string, string> {
  const out = new Map<string, string>();
  entries.forEach((e, i) => {
    const name = obj(e)['name'];
    out.set(typeof name === 'string' && name !== '' ? name : `${kind}[${i}]`, JSON.stringify(e));
  });
  return out;
}

/** The inline route configurations of every connection manager, by route_config.name. */
function routeConfigs(listeners: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const l of listeners) {
    const lo = obj(l);
    const chains = [...list(lo['filter_chains']), ...(lo['default_filter_chain'] === undefined ? [] : [lo['default_filter_chain']])];
    for (const c of chains) {
      for (const f of list(obj(c)['filters'])) {
        const tc = obj(obj(f)['typed_config']);
        if (tc['@type'] === HCM_TYPE && tc['route_config'] !== undefined) out.push(tc['route_config']);
      }
    }
  }
  return out;
}

interface Delta {
  added: string[];
  changed: string[];
  removed: string[];
}

function diff(before: Map<string, string>, after: Map<string, string>): Delta {
  const d: Delta = { added: [], changed: [], removed: [] };
  for (const [name, json] of after) {
    const old = before.get(name);
    if (old === undefined) d.added.push(name);
    else if (old !== json) d.changed.push(name);
  }
  for (const name of before.keys()) if (!after.has(name)) d.removed.push(name);
  return d;
}

function describe(what: string, d: Delta): string | null {
  const parts: string[] = [];
  if (d.added.length > 0) parts.push(`+${d.added.join(' +')}`);
  if (d.changed.length > 0) parts.push(`~${d.changed.join(' ~')}`);
  if (d.removed.length > 0) parts.push(`-${d.removed.join(' -')}`);
  return parts.length === 0 ? null : `${what} ${parts.join(' ')}`;
}

/**
 * "listeners +new ~web; clusters -old; routes ~web_routes" (+ added, ~ changed, - removed), "bootstrap changed"
 * when only other sections differ, or "no change".
 */
export function reloadSummary(before: Obj, after: Obj): string {
  const sb = obj(before['static_resources']);
  const sa = obj(after['static_resources']);
  const lb = list(sb['listeners']);
  const la = list(sa['listeners']);
  const sections = [
    describe('listeners', diff(byName(lb, 'listener'), byName(la, 'listener'))),
    describe('clusters', diff(byName(list(sb['clusters']), 'cluster'), byName(list(sa['clusters']), 'cluster'))),
    describe('routes', diff(byName(routeConfigs(lb), 'route_config'), byName(routeConfigs(la), 'route_config'))),
  ].filter((s): s is string => s !== null);
  if (sections.length > 0) return sections.join('; ');
  return JSON.stringify(before) === JSON.stringify(after) ? 'no change' : 'bootstrap changed (no listener, cluster or route)';
}
