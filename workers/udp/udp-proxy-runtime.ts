// Worker thread. The udp_proxy of one UDP listener for one config version: its frozen config and stat slots, the
// cluster manager, and the listener socket replies go out of. Sessions capture it when they start, so a reload
// changes only the sessions that start after it.

import { Hash64, xxHash64 } from '../../src/common/xxhash64.ts';
import type { UdpProxyConfig } from '../../src/snapshot/udp-listener-config.ts';
import type { ScopeSlots, WorkerStatsStore, CLUSTER_UDP_STATS, UDP_PROXY_STATS } from '../../src/stats/definitions.ts';
import type { UpstreamHost } from '../upstream/upstream-host.ts';
import type { WorkerCluster } from '../upstream/worker-cluster.ts';
import type { WorkerClusterManager } from '../upstream/cluster-manager.ts';
import type dgram from 'node:dgram';

const sourceHash = new Hash64();

export class UdpProxyRuntime {
  readonly config: UdpProxyConfig;
  readonly slots: ScopeSlots<typeof UDP_PROXY_STATS>;
  readonly clusterSlots: ScopeSlots<typeof CLUSTER_UDP_STATS>;
  readonly stats: WorkerStatsStore;
  private readonly clusters: WorkerClusterManager;
  private readonly socket: dgram.Socket;
  /** A `key` hash policy hashes every session the same: computed once. */
  private readonly keyHash: Hash64 | null;
  private readonly onSent: (err: Error | null) => void;

  constructor(config: UdpProxyConfig, clusters: WorkerClusterManager, stats: WorkerStatsStore, socket: dgram.Socket) {
    // The primary assigns slots to every udp_proxy of a snapshot; missing ones are a bug upstream of here.
    if (config.slots === null || config.clusterSlots === null) throw new Error(`udp_proxy '${config.statPrefix}' has no stat slots`);
    this.config = config;
    this.slots = config.slots;
    this.clusterSlots = config.clusterSlots;
    this.stats = stats;
    this.clusters = clusters;
    this.socket = socket;
    const p = config.hashPolicy;
    this.keyHash = p !== null && p.kind === 'key' ? xxHash64(p.key, new Hash64()) : null;
    const values = stats.values;
    const txErrors = this.slots.downstream_sess_tx_errors;
    this.onSent = (err) => {
      if (err !== null && err !== undefined) values[txErrors]++;
    };
  }

  /** The cluster for a new session (an aggregate's member by failover), or undefined: no route. */
  cluster(): WorkerCluster | undefined {
    const c = this.clusters.get(this.config.cluster);
    return c === undefined || c.aggregate === null ? c : (c.aggregate.choose() ?? c);
  }

  /** A host of `cluster` for a datagram from `clientIp`: hashed by the hash policy when the cluster hashes. */
  chooseHost(cluster: WorkerCluster, clientIp: string): UpstreamHost | null {
    const p = this.config.hashPolicy;
    if (p === null || !cluster.hashing) return cluster.chooseHost();
    return cluster.chooseHost(p.kind === 'source_ip' ? xxHash64(clientIp, sourceHash) : this.keyHash);
  }

  /** A datagram from the session's upstream, out of the listener socket to the client. */
  sendDownstream(msg: Buffer, port: number, address: string): void {
    const values = this.stats.values;
    values[this.slots.downstream_sess_tx_datagrams]++;
    values[this.slots.downstream_sess_tx_bytes] += msg.length;
    this.socket.send(msg, port, address, this.onSent);
  }
}
