// Worker thread. The hash a tcp_proxy connection hands a hashing cluster (RING_HASH, MAGLEV): its hash_policy
// (Envoy's type.v3.HashPolicy, one entry) over the downstream connection. source_ip hashes the client's IP as text
// (Envoy's SourceIpHashMethod); filter_state hashes the named object's value. Called only when the cluster hashes
// and a policy is configured, so a plain tcp_proxy pays nothing.

import { Hash64, xxHash64 } from '../../src/common/xxhash64.ts';
import type { TcpHashPolicy } from '../../src/snapshot/snapshot-types.ts';
import type { StreamInfo } from '../../src/http/stream-info.ts';

/** The connection's hash, or null when the policy yields none (no IP, no such filter state). */
export function connectionHash(policy: TcpHashPolicy, remoteIp: string, info: StreamInfo): Hash64 | null {
  if (policy.kind === 'source_ip') {
    if (remoteIp === '') return null;
    return xxHash64(remoteIp, new Hash64());
  }
  const state = info.filterState;
  const o = state === null ? undefined : state.get(policy.key);
  if (o === undefined) return null;
  return xxHash64(o.value, new Hash64());
}
