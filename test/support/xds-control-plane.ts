// Test support: a small xDS control plane on @grpc/grpc-js serving Envoy's AggregatedDiscoveryService (state of the
// world and delta) from snapshots, as go-control-plane's snapshot cache does: a snapshot is a version and the
// resources of each type; every open stream is sent what changed. Every request is recorded (ACKs, NACKs with their
// error_detail, subscriptions) for the tests to check. Resources are given as proto JSON objects (snake_case,
// nested Any as { "@type": ... }, durations as { seconds }) and encoded with Envoy's protos.

import * as grpc from '@grpc/grpc-js';
import crypto from 'node:crypto';
import type { Type } from 'protobufjs';
import { protoSchema } from '../../src/config-loader/proto-schema.ts';

type Obj = Record<string, unknown>;

export const TYPE_URLS = {
  lds: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  cds: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  rds: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  eds: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
/** SDS secrets (envoy.extensions.transport_sockets.tls.v3.Secret), served by name as RDS/EDS are. */
export const SDS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
/** TYPE_URLS and SDS (kept apart: tests walk TYPE_URLS expecting a request of each type). */
const ALL_TYPE_URLS = { ...TYPE_URLS, sds: SDS_TYPE_URL } as const;
export type Kind = keyof typeof ALL_TYPE_URLS;
const KIND_OF = new Map<string, Kind>(Object.entries(ALL_TYPE_URLS).map(([k, v]) => [v as string, k as Kind]));
const WILDCARD: Record<Kind, boolean> = { lds: true, cds: true, rds: false, eds: false, sds: false };

export interface XdsSnapshot {
  version: string;
  resources: Partial<Record<Kind, Obj[]>>;
}

export interface RecordedRequest {
  delta: boolean;
  typeUrl: string;
  versionInfo: string;
  responseNonce: string;
  resourceNames: string[];
  subscribe: string[];
  unsubscribe: string[];
  initialVersions: Record<string, string>;
  errorDetail: { code: number; message: string } | null;
  node: Obj | null;
  stream: number;
}

function messageType(name: string): Type {
  const info = protoSchema().lookupMessage(name);
  if (info === undefined) throw new Error(`no proto for ${name}`);
  return info.type;
}

/** Loads every message an '@type' in `v` names, so protobufjs can encode the Any. */
function preloadTypes(v: unknown): void {
  if (Array.isArray(v)) for (const x of v) preloadTypes(x);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Obj)) {
      if (k === '@type' && typeof x === 'string') messageType(x.slice(x.lastIndexOf('/') + 1));
      else preloadTypes(x);
    }
  }
}

interface Encoded {
  name: string;
  any: { type_url: string; value: Uint8Array };
  hash: string;
}

function encodeResource(kind: Kind, r: Obj): Encoded {
  preloadTypes(r);
  const typeUrl = ALL_TYPE_URLS[kind];
  const t = messageType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const value = t.encode(t.fromObject(r)).finish();
  const name = String(kind === 'eds' ? r['cluster_name'] : r['name']);
  return { name, any: { type_url: typeUrl, value }, hash: crypto.createHash('sha1').update(value).digest('hex').slice(0, 12) };
}

/** Raw bytes as a resource (e.g. a resource that does not decode, or one of a wrong type). */
export function rawResource(name: string, typeUrl: string, value: Uint8Array): Obj {
  return { __raw: { name, any: { type_url: typeUrl, value } } };
}

class SotwStream {
  readonly id: number;
  readonly call: grpc.ServerDuplexStream<Obj, Obj>;
  readonly names = new Map<Kind, string[]>();
  /** Per type: the version last sent (a request at another version, or new names, gets an answer). */
  readonly sent = new Map<Kind, string>();
  constructor(id: number, call: grpc.ServerDuplexStream<Obj, Obj>) {
    this.id = id;
    this.call = call;
  }
}

class DeltaStream {
  readonly id: number;
  readonly call: grpc.ServerDuplexStream<Obj, Obj>;
  /** Per type: wildcard, or the names subscribed. */
  readonly subs = new Map<Kind, { wildcard: boolean; names: Set<string> }>();
  /** Per type: what the client holds (name -> version). */
  readonly known = new Map<Kind, Map<string, string>>();
  constructor(id: number, call: grpc.ServerDuplexStream<Obj, Obj>) {
    this.id = id;
    this.call = call;
  }
}

export class XdsControlPlane {
  port = 0;
  readonly requests: RecordedRequest[] = [];
  private server: grpc.Server | null = null;
  private snapshot: XdsSnapshot = { version: '', resources: {} };
  private encoded = new Map<Kind, Encoded[]>();
  private sotw = new Set<SotwStream>();
  private delta = new Set<DeltaStream>();
  private nonce = 0;
  private streams = 0;
  /** Streams opened so far (a reconnect opens a new one). */
  get streamCount(): number {
    return this.streams;
  }

  /** Listens on 127.0.0.1:port (0: any); `credentials` for TLS (default plain TCP). */
  async start(port = 0, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<this> {
    const reqT = messageType('envoy.service.discovery.v3.DiscoveryRequest');
    const respT = messageType('envoy.service.discovery.v3.DiscoveryResponse');
    const dreqT = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const drespT = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const method = (path: string, req: Type, resp: Type): grpc.MethodDefinition<Obj, Obj> => ({
      path, requestStream: true, responseStream: true,
      requestSerialize: (m: Obj) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: String, enums: String, defaults: false }),
      responseSerialize: (m: Obj) => Buffer.from(resp.encode(resp.fromObject(m)).finish()),
      responseDeserialize: (b: Buffer) => resp.toObject(resp.decode(b)),
    });
    const service: grpc.ServiceDefinition = {
      StreamAggregatedResources: method('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', reqT, respT),
      DeltaAggregatedResources: method('/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources', dreqT, drespT),
    };
    const server = new grpc.Server();
    server.addService(service, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Obj, Obj>) => this.onSotwStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Obj, Obj>) => this.onDeltaStream(call),
    });
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.server = server;
    return this;
  }

  /** Closes every stream and the port at once (a control plane that dies). */
  stop(): void {
    this.server?.forceShutdown();
    this.server = null;
    this.sotw.clear();
    this.delta.clear();
  }

  /** Replaces the snapshot and sends every open stream what changed. */
  setSnapshot(s: XdsSnapshot): void {
    this.snapshot = s;
    this.encoded = new Map();
    for (const k of Object.keys(ALL_TYPE_URLS) as Kind[]) {
      this.encoded.set(k, (s.resources[k] ?? []).map((r) => ((r as { __raw?: Encoded }).__raw !== undefined
        ? { ...(r as { __raw: Omit<Encoded, 'hash'> }).__raw, hash: 'raw' }
        : encodeResource(k, r))));
    }
    for (const st of this.sotw) for (const k of st.names.keys()) this.sendSotw(st, k);
    for (const st of this.delta) for (const k of st.subs.keys()) this.sendDelta(st, k, false);
  }

  /** Resolves with the first request (recorded from index `from` on) that `pred` accepts; rejects after timeoutMs. */
  async waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 20_000, from = 0): Promise<RecordedRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.requests.length; i++) if (pred(this.requests[i]!)) return this.requests[i]!;
      if (Date.now() > deadline) {
        throw new Error(`no such xDS request within ${timeoutMs} ms; seen:\n${this.requests.map((r) => JSON.stringify(r)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private record(r: Omit<RecordedRequest, 'stream'>, stream: number): void {
    this.requests.push({ ...r, stream });
  }

  // ---- state of the world ----

  private onSotwStream(call: grpc.ServerDuplexStream<Obj, Obj>): void {
    const st = new SotwStream(++this.streams, call);
    this.sotw.add(st);
    call.on('data', (m: Obj) => {
      const typeUrl = String(m['type_url'] ?? '');
      const errorDetail = m['error_detail'] === undefined ? null : { code: Number((m['error_detail'] as Obj)['code'] ?? 0), message: String((m['error_detail'] as Obj)['message'] ?? '') };
      const names = ((m['resource_names'] as string[] | undefined) ?? []).map(String);
      this.record({
        delta: false, typeUrl, versionInfo: String(m['version_info'] ?? ''), responseNonce: String(m['response_nonce'] ?? ''),
        resourceNames: names, subscribe: [], unsubscribe: [], initialVersions: {}, errorDetail, node: (m['node'] as Obj | undefined) ?? null,
      }, st.id);
      const kind = KIND_OF.get(typeUrl);
      if (kind === undefined) return;
      const before = st.names.get(kind);
      st.names.set(kind, names);
      const namesChanged = before === undefined || before.join(',') !== names.join(',');
      // A NACK waits for a new snapshot; an ACK of the current version needs nothing.
      if (errorDetail !== null && !namesChanged) return;
      if (!namesChanged && String(m['version_info'] ?? '') === this.snapshot.version) return;
      if (!namesChanged && st.sent.get(kind) === this.snapshot.version) return;
      this.sendSotw(st, kind);
    });
    call.on('error', () => this.sotw.delete(st));
    call.on('end', () => {
      this.sotw.delete(st);
      call.end();
    });
  }

  private sendSotw(st: SotwStream, kind: Kind): void {
    const names = st.names.get(kind) ?? [];
    const all = this.encoded.get(kind) ?? [];
    const picked = WILDCARD[kind] || names.length === 0 ? all : all.filter((e) => names.includes(e.name));
    st.sent.set(kind, this.snapshot.version);
    st.call.write({ version_info: this.snapshot.version, type_url: ALL_TYPE_URLS[kind], nonce: String(++this.nonce), resources: picked.map((e) => e.any) });
  }

  // ---- delta ----

  private onDeltaStream(call: grpc.ServerDuplexStream<Obj, Obj>): void {
    const st = new DeltaStream(++this.streams, call);
    this.delta.add(st);
    call.on('data', (m: Obj) => {
      const typeUrl = String(m['type_url'] ?? '');
      const errorDetail = m['error_detail'] === undefined ? null : { code: Number((m['error_detail'] as Obj)['code'] ?? 0), message: String((m['error_detail'] as Obj)['message'] ?? '') };
      const subscribe = ((m['resource_names_subscribe'] as string[] | undefined) ?? []).map(String);
      const unsubscribe = ((m['resource_names_unsubscribe'] as string[] | undefined) ?? []).map(String);
      const initialVersions = ((m['initial_resource_versions'] as Record<string, string> | undefined) ?? {});
      this.record({
        delta: true, typeUrl, versionInfo: '', responseNonce: String(m['response_nonce'] ?? ''), resourceNames: [],
        subscribe, unsubscribe, initialVersions: { ...initialVersions }, errorDetail, node: (m['node'] as Obj | undefined) ?? null,
      }, st.id);
      const kind = KIND_OF.get(typeUrl);
      if (kind === undefined) return;
      let sub = st.subs.get(kind);
      const first = sub === undefined;
      if (sub === undefined) {
        sub = { wildcard: subscribe.length === 0 || subscribe.includes('*'), names: new Set() };
        st.subs.set(kind, sub);
        st.known.set(kind, new Map(Object.entries(initialVersions)));
      }
      for (const n of subscribe) if (n !== '*') sub.names.add(n);
      for (const n of unsubscribe) {
        sub.names.delete(n);
        st.known.get(kind)!.delete(n);
      }
      if (first || subscribe.length > 0) this.sendDelta(st, kind, first);
    });
    call.on('error', () => this.delta.delete(st));
    call.on('end', () => {
      this.delta.delete(st);
      call.end();
    });
  }

  private sendDelta(st: DeltaStream, kind: Kind, first: boolean): void {
    const sub = st.subs.get(kind)!;
    const known = st.known.get(kind)!;
    const all = this.encoded.get(kind) ?? [];
    const wanted = all.filter((e) => sub.wildcard || sub.names.has(e.name));
    const changed = wanted.filter((e) => known.get(e.name) !== e.hash);
    const present = new Set(wanted.map((e) => e.name));
    const removed = [...known.keys()].filter((n) => !present.has(n) && (sub.wildcard || sub.names.has(n) || !WILDCARD[kind]));
    if (changed.length === 0 && removed.length === 0 && !(first && sub.wildcard)) return;
    for (const e of changed) known.set(e.name, e.hash);
    for (const n of removed) known.delete(n);
    st.call.write({
      system_version_info: this.snapshot.version, type_url: ALL_TYPE_URLS[kind], nonce: String(++this.nonce),
      resources: changed.map((e) => ({ name: e.name, version: e.hash, resource: e.any })),
      removed_resources: removed,
    });
  }
}

/** A process's exit code, or a rejection after timeoutMs (a test never waits without a bound). */
export function exitWithin(p: { waitExit(): Promise<number>; stop(): Promise<number> }, timeoutMs = 20_000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((_, reject) => {
    timer = setTimeout(() => {
      void p.stop();
      reject(new Error(`the process did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  return Promise.race([p.waitExit(), timeout]).finally(() => clearTimeout(timer));
}

// ---- resource builders (proto JSON, as a control plane would hold them) ----

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A listener on 127.0.0.1:port whose HCM takes route config `routeName` over RDS (ADS). */
export function rdsListener(name: string, port: number, routeName: string, statPrefix = name): Obj {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM,
          stat_prefix: statPrefix,
          rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
        },
      }],
    }],
  };
}

/** Every path to `cluster`, with a response header naming the route table's `tag`. */
export function routeConfig(name: string, cluster: string, tag: string): Obj {
  return {
    name,
    virtual_hosts: [{
      name: 'all', domains: ['*'],
      routes: [{ match: { prefix: '/' }, route: { cluster } }],
      response_headers_to_add: [{ header: { key: 'x-route-tag', value: tag } }],
    }],
  };
}

/** A cluster of type EDS over ADS (service name = the cluster's name unless given). */
export function edsCluster(name: string, serviceName?: string): Obj {
  return {
    name, type: 'EDS', connect_timeout: { seconds: 1 },
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, ...(serviceName === undefined ? {} : { service_name: serviceName }) },
  };
}

export function loadAssignment(clusterName: string, ports: number[]): Obj {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  };
}

/** A Legate bootstrap with only dynamic_resources (+ admin): ADS to the control plane at 127.0.0.1:xdsPort. */
export function adsBootstrap(xdsPort: number, opts: {
  delta?: boolean; nodeId?: string; initialFetchTimeout?: string; setNodeOnFirstMessageOnly?: boolean;
  /** TLS to the control plane: PEM file paths and the SNI. */
  tls?: { ca: string; cert?: string; key?: string; sni?: string };
} = {}): string {
  const t = opts.tls;
  const tls = t === undefined ? '' : `    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: "${t.sni ?? ''}"
        common_tls_context:
          validation_context:
            trusted_ca: { filename: ${t.ca} }
${t.cert === undefined ? '' : `          tls_certificates:
          - certificate_chain: { filename: ${t.cert} }
            private_key: { filename: ${t.key} }
`}`;
  return `node:
  id: ${opts.nodeId ?? 'legate-test'}
  cluster: test-cluster
  metadata: { team: edge, shards: [1, 2] }
  locality: { region: r1, zone: z1 }
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
dynamic_resources:
  ads_config:
    api_type: ${opts.delta === true ? 'DELTA_GRPC' : 'GRPC'}
    transport_api_version: V3
    set_node_on_first_message_only: ${opts.setNodeOnFirstMessageOnly === true}
    grpc_services:
    - envoy_grpc:
        cluster_name: xds_cluster
  cds_config:
    ads: {}
    resource_api_version: V3${opts.initialFetchTimeout === undefined ? '' : `\n    initial_fetch_timeout: ${opts.initialFetchTimeout}`}
  lds_config:
    ads: {}
    resource_api_version: V3${opts.initialFetchTimeout === undefined ? '' : `\n    initial_fetch_timeout: ${opts.initialFetchTimeout}`}
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
${tls}    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: ${xdsPort} }
`;
}
