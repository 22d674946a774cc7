// Any thread (pure; config time). A cluster of `type: ORIGINAL_DST` (Envoy's original destination cluster): its
// `original_dst_lb_config` and `cleanup_interval` compiled into plain data. The hosts themselves are made on demand
// by each worker (workers/upstream/original-dst-hosts.ts); the cluster has no endpoints of its own.

type Obj = Record<string, unknown>;

export interface OriginalDstProblem {
  code: 'not_supported' | 'bad_value';
  path: string;
  message: string;
}

export interface OriginalDstSettings {
  /** use_http_header: the (lower-case) header whose first value names the host; null when the header is not used. */
  httpHeaderName: string | null;
  /** upstream_port_override; 0 = keep the destination's port. */
  upstreamPortOverride: number;
  /** cleanup_interval: a host unused for this long is dropped (Envoy default 5 s). */
  cleanupIntervalMs: number;
  /** metadata_key: the request's dynamic metadata namespace and key path whose string value names the host; null = none. */
  metadataKey: { key: string; path: string[] } | null;
}

export const ORIGINAL_DST_DEFAULT_HEADER = 'x-envoy-original-dst-host';
export const ORIGINAL_DST_DEFAULT_CLEANUP_MS = 5000;
const LB_CONFIG_FIELDS: ReadonlySet<string> = new Set(['use_http_header', 'http_header_name', 'upstream_port_override', 'metadata_key']);

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A UInt32Value as the loader leaves it: a plain number, or { value }. */
function wrapped(v: unknown): unknown {
  return isObj(v) ? v['value'] : v;
}

/**
 * `c` is the cluster message (its type is ORIGINAL_DST), `path` the cluster's. Also checks what Envoy requires of
 * such a cluster: no load_assignment, lb_policy CLUSTER_PROVIDED (or the deprecated ORIGINAL_DST_LB).
 */
export function compileOriginalDst(c: Obj, path: string, problems: OriginalDstProblem[]): OriginalDstSettings {
  const lbPolicy = c['lb_policy'] === undefined ? 'ROUND_ROBIN' : String(c['lb_policy']);
  if (lbPolicy !== 'CLUSTER_PROVIDED' && lbPolicy !== 'ORIGINAL_DST_LB') {
    problems.push({ code: 'bad_value', path: `${path}.lb_policy`, message: `cluster: LB policy ${lbPolicy} is not valid for Cluster type ORIGINAL_DST. Only 'CLUSTER_PROVIDED' is allowed with cluster type 'ORIGINAL_DST'` });
  }
  const la = c['load_assignment'];
  if (isObj(la) && Array.isArray(la['endpoints']) && la['endpoints'].length > 0) {
    problems.push({ code: 'bad_value', path: `${path}.load_assignment`, message: 'ORIGINAL_DST clusters must have no load assignment configured' });
  }
  let cleanupIntervalMs = ORIGINAL_DST_DEFAULT_CLEANUP_MS;
  if (c['cleanup_interval'] !== undefined) {
    cleanupIntervalMs = Number(c['cleanup_interval']);
    if (!(cleanupIntervalMs > 0)) {
      problems.push({ code: 'bad_value', path: `${path}.cleanup_interval`, message: `cleanup_interval must be greater than 0, got ${String(c['cleanup_interval'])}` });
    }
  }
  let httpHeaderName: string | null = null;
  let upstreamPortOverride = 0;
  let metadataKey: { key: string; path: string[] } | null = null;
  const lb = c['original_dst_lb_config'];
  if (isObj(lb)) {
    const at = `${path}.original_dst_lb_config`;
    for (const key of Object.keys(lb)) {
      if (LB_CONFIG_FIELDS.has(key) || lb[key] === undefined) continue;
      problems.push({ code: 'not_supported', path: `${at}.${key}`, message: `'${key}' is not supported yet` });
    }
    if (lb['use_http_header'] === true) {
      const name = typeof lb['http_header_name'] === 'string' ? lb['http_header_name'].toLowerCase() : '';
      httpHeaderName = name === '' ? ORIGINAL_DST_DEFAULT_HEADER : name;
    }
    const mk = lb['metadata_key'];
    if (isObj(mk)) {
      const segments = Array.isArray(mk['path']) ? mk['path'] : [];
      const path = segments.map((seg) => (isObj(seg) && typeof seg['key'] === 'string' ? seg['key'] : ''));
      if (typeof mk['key'] !== 'string' || mk['key'] === '' || path.length === 0 || path.includes('')) {
        problems.push({ code: 'bad_value', path: `${at}.metadata_key`, message: 'metadata_key needs a non-empty key and a path of keys (as Envoy\'s MetadataKey)' });
      } else {
        metadataKey = Object.freeze({ key: mk['key'], path: Object.freeze(path) as string[] });
      }
    }
    const port = wrapped(lb['upstream_port_override']);
    if (port !== undefined) {
      upstreamPortOverride = Number(port);
      if (!Number.isInteger(upstreamPortOverride) || upstreamPortOverride < 0 || upstreamPortOverride > 65535) {
        problems.push({ code: 'bad_value', path: `${at}.upstream_port_override`, message: `upstream_port_override must be a port (<= 65535), got ${String(port)}` });
      }
    }
  }
  for (const key of ['health_checks', 'outlier_detection']) {
    const v = c[key];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    // The primary never sees the hosts (each worker makes its own), so it has nothing to check or eject.
    problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `${key} on an ORIGINAL_DST cluster is not supported yet` });
  }
  return Object.freeze({ httpHeaderName, upstreamPortOverride, cleanupIntervalMs, metadataKey });
}
