// Any thread (pure). An HCM's internal_address_config: compiled on the primary into plain data (HcmConfig), and
// turned into an InternalAddressMatcher once per connection manager runtime in a worker.
//
// Envoy (1.36 on, when the explicit_internal_address_config guard went) trusts no address when
// internal_address_config is absent; with it, a unix-socket peer is internal when unix_sockets is set, and an IP
// is internal when it is in cidr_ranges, or, with no cidr_ranges, in Envoy's private ranges
// (Network::Utility::isInternalAddress: RFC 1918, 127.0.0.1, fd00::/8, ::1).

import type { InternalAddressPolicy } from '../http/internal-address.ts';
import { cidrContains, parseCidr, parseIp, type IpAddress } from './filter-chain-matcher.ts';
import type { CidrSpec } from './snapshot-types.ts';

/** internal_address_config, normalized; HcmConfig.internalAddressConfig is null when the field is absent. */
export interface InternalAddressConfig {
  unixSockets: boolean;
  /** Host bits cleared; [] means Envoy's private ranges. */
  cidrRanges: CidrSpec[];
}

type Problem = { path: string; message: string };

/** Compiles internal_address_config (undefined: absent -> null); a bad CIDR is a problem at its position. */
export function compileInternalAddressConfig(v: unknown, path: string, problems: Problem[]): InternalAddressConfig | null {
  if (v === undefined || v === null) return null;
  const o = (typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const cidrRanges: CidrSpec[] = [];
  const ranges = Array.isArray(o['cidr_ranges']) ? (o['cidr_ranges'] as unknown[]) : [];
  ranges.forEach((r, i) => {
    const c = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const prefix = typeof c['address_prefix'] === 'string' ? c['address_prefix'] : '';
    const len = typeof c['prefix_len'] === 'number' ? c['prefix_len'] : 0;
    const spec = parseCidr(prefix, len);
    if (typeof spec === 'string') problems.push({ path: `${path}.cidr_ranges[${i}]`, message: spec });
    else cidrRanges.push(spec);
  });
  return { unixSockets: o['unix_sockets'] === true, cidrRanges };
}

const NONE = 0;
const RANGES = 1;

/** Envoy's Network::Utility::isInternalAddress, as ranges. */
const PRIVATE_RANGES: readonly CidrSpec[] = [
  ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.1', 32], ['fd00::', 8], ['::1', 128],
].map(([a, l]) => parseCidr(a as string, l as number) as CidrSpec);

/** Built once per connection manager runtime; isInternal runs once per request. */
export class InternalAddressMatcher implements InternalAddressPolicy {
  private readonly mode: number;
  private readonly unixSockets: boolean;
  private readonly nets: readonly IpAddress[];
  private readonly lens: readonly number[];

  constructor(config: InternalAddressConfig | null) {
    this.mode = config === null ? NONE : RANGES;
    this.unixSockets = config !== null && config.unixSockets;
    const nets: IpAddress[] = [];
    const lens: number[] = [];
    const ranges = config === null ? [] : config.cidrRanges.length === 0 ? PRIVATE_RANGES : config.cidrRanges;
    for (const c of ranges) {
      const ip = parseIp(c.address);
      if (ip === null) continue;
      nets.push(ip);
      lens.push(c.prefixLen);
    }
    this.nets = nets;
    this.lens = lens;
  }

  isInternal(ip: string): boolean {
    if (this.mode === NONE) return false;
    // A unix-socket peer has no IP (Legate listens on IP sockets today, so this is for completeness).
    if (ip === '' || ip.charCodeAt(0) === 47 /* / */) return this.unixSockets;
    const a = parseIp(ip);
    if (a === null) return false;
    for (let i = 0; i < this.nets.length; i++) if (cidrContains(this.nets[i]!, this.lens[i]!, a)) return true;
    return false;
  }
}
