// Any thread (pure; compiled at config time, read on a worker's request path). RouteAction.request_mirror_policies
// and VirtualHost.request_mirror_policies: which cluster a copy of the request goes to, for which share of requests,
// and the host the copy carries (Envoy's shadowAppendedHost).

import { asciiLower } from './ascii.ts';
import { bool, checkHeaderName, isObj, list, num, obj, oneofSet, str, type Obj, type RouteConfigProblem } from './config-values.ts';

const DENOMINATORS: Readonly<Record<string, number>> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** One RequestMirrorPolicy, frozen. */
export class MirrorPolicy {
  /** The mirror cluster; '' when it comes from a request header. */
  readonly cluster: string;
  /** cluster_header, lower-cased; null when `cluster` names it. */
  readonly clusterHeader: string | null;
  /** runtime_fraction.default_value over `denominator` (100 of 100 when not given, as Envoy). */
  readonly numerator: number;
  readonly denominator: number;
  /** disable_shadow_host_suffix_append: the copy keeps the request's host. */
  readonly keepHost: boolean;

  constructor(cluster: string, clusterHeader: string | null, numerator: number, denominator: number, keepHost: boolean) {
    this.cluster = cluster;
    this.clusterHeader = clusterHeader;
    this.numerator = numerator;
    this.denominator = denominator;
    this.keepHost = keepHost;
    Object.freeze(this);
  }

  /** Whether this request is mirrored: a uniform draw in [0, denominator) below the numerator (featureEnabled). */
  sampled(random: number): boolean {
    if (this.numerator >= this.denominator) return true;
    if (this.numerator <= 0) return false;
    return Math.floor(random * this.denominator) < this.numerator;
  }
}

/**
 * A list of RequestMirrorPolicy (`raw` at `path`); null when empty. The support check has already refused the
 * fields Legate does not implement (trace_sampled).
 */
export function compileMirrorPolicies(raw: unknown, path: string, problems: RouteConfigProblem[]): readonly MirrorPolicy[] | null {
  const items = list(raw);
  if (items.length === 0) return null;
  const out: MirrorPolicy[] = [];
  items.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const m = obj(item);
    const which = oneofSet(m, ['cluster', 'cluster_header'], p, true, problems);
    if (which === null) return;
    let cluster = '';
    let header: string | null = null;
    if (which === 'cluster') {
      cluster = str(m['cluster'], '');
      if (cluster === '') {
        problems.push({ path: `${p}.cluster`, message: 'a mirror policy needs a cluster (or cluster_header)' });
        return;
      }
    } else {
      const h = str(m['cluster_header'], '');
      if (!checkHeaderName(h, `${p}.cluster_header`, problems)) return;
      header = asciiLower(h) === ':authority' ? 'host' : asciiLower(h);
    }
    let numerator = 100;
    let denominator = 100;
    if (isObj(m['runtime_fraction'])) {
      // Legate reads no runtime: runtime_key overrides nothing, default_value decides.
      const dv: Obj = obj(obj(m['runtime_fraction'])['default_value']);
      const dName = str(dv['denominator'], 'HUNDRED');
      const d = DENOMINATORS[dName];
      if (d === undefined) {
        problems.push({ path: `${p}.runtime_fraction.default_value.denominator`, message: `unknown denominator ${dName}` });
        return;
      }
      denominator = d;
      numerator = num(dv['numerator'], 0);
    }
    out.push(new MirrorPolicy(cluster, header, numerator, denominator, bool(m['disable_shadow_host_suffix_append'], false)));
  });
  return out.length === 0 ? null : Object.freeze(out);
}

/**
 * Envoy's shadowAppendedHost: "-shadow" after the host name, before a port ("a.com:8080" -> "a.com-shadow:8080";
 * an IPv6 literal's colons are not a port).
 */
export function shadowHost(host: string): string {
  let portStart = -1;
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const bracket = host.lastIndexOf(']');
    if (host.charCodeAt(0) !== 91 /* [ */ ? host.indexOf(':') === colon : bracket !== -1 && bracket < colon) portStart = colon;
  }
  return portStart === -1 ? host + '-shadow' : host.slice(0, portStart) + '-shadow' + host.slice(portStart);
}
