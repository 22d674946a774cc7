// Primary thread. The ADS client: one gRPC stream to the control plane (StreamAggregatedResources, state of the
// world, or DeltaAggregatedResources), carrying CDS, EDS, LDS and RDS as Envoy does. It keeps the last accepted
// resources per type; a response is checked resource by resource (the config loader's schema walk), then, once every
// resource the listeners and clusters reference has arrived (or its initial_fetch_timeout passed), the whole set is
// handed to `apply` (the config pipeline + the same apply path as a SIGHUP reload). The outcome is the ACK or NACK.
// Losing the stream keeps the last good config; the client reconnects with jittered exponential back-off and resumes
// with the versions it holds.

import * as grpc from '@grpc/grpc-js';
import type { Type } from 'protobufjs';
import { log } from '../common/logger.ts';
import { protoSchema } from '../config-loader/proto-schema.ts';
import type { AdsSettings } from './ads-settings.ts';
import { edsNameOf, routeNamesOf, routeUsersOf, secretNamesOf } from './merge-resources.ts';
import { jsonToStruct } from './proto-json.ts';
import { XDS_KINDS, XDS_TYPES, kindOfTypeUrl, type DynamicResourceSet, type XdsKind, type XdsRejection, type XdsResource } from './resource-types.ts';
import { SdsFileSecrets } from './sds-file.ts';
import { checkResource } from './validate-resource.ts';
import type { XdsStats } from './xds-stats.ts';

type Obj = Record<string, unknown>;

const SOTW_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
/** google.rpc.Code INVALID_ARGUMENT: what Envoy puts in a NACK's error_detail. */
const INVALID_ARGUMENT = 3;

export interface ApplyOutcome {
  ok: boolean;
  /** Why the set was refused, one problem a line. */
  message: string;
}

export interface AdsClientOptions {
  /** Back-off of reconnects: a random delay in [0, min(max, base * 2^attempt)). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  userAgentVersion?: string;
}

/** One resource type on the stream. */
class TypeState {
  readonly kind: XdsKind;
  readonly typeUrl: string;
  readonly wildcard: boolean;
  /** The last accepted resources, by name. */
  accepted = new Map<string, XdsResource>();
  /** version_info (SotW) / system_version_info (delta) of the last accepted response. */
  version = '';
  /** The last nonce this stream received for the type. */
  nonce = '';
  /** A first response was accepted (or the initial fetch timed out). */
  ready = false;
  /** RDS/EDS: the names subscribed to, with when (their own initial fetch timeout). */
  names = new Map<string, number>();
  /** Delta: the names the server has been told about on this stream. */
  sentNames = new Set<string>();
  /** A request was sent on this stream (the type is subscribed). */
  requested = false;
  /** Resources the last refused update named, until a later update of them is accepted. */
  rejected = new Map<string, XdsRejection>();

  constructor(kind: XdsKind) {
    this.kind = kind;
    this.typeUrl = XDS_TYPES[kind].typeUrl;
    this.wildcard = XDS_TYPES[kind].wildcard;
  }
}

interface IncomingResource {
  name: string | undefined;
  version: string;
  typeUrl: string;
  bytes: Uint8Array;
}

export class AdsClient {
  private readonly settings: AdsSettings;
  private readonly stats: XdsStats;
  private readonly apply: (set: DynamicResourceSet) => Promise<ApplyOutcome>;
  private readonly types: Record<XdsKind, TypeState>;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly node: Obj;
  private readonly requestType: Type;
  private readonly responseType: Type;
  private client: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<Obj, Obj> | null = null;
  /** Increases with every stream: events of an older stream are ignored. */
  private generation = 0;
  private nodeSent = false;
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private warmTimer: NodeJS.Timeout | null = null;
  private initialTimer: NodeJS.Timeout | null = null;
  /** Responses are handled one at a time, in order. */
  private work: Promise<void> = Promise.resolve();
  private initializedResolve!: () => void;
  private isInitialized = false;
  /** Settles once a first complete set was applied (or the initial fetch timed out and a set was applied). */
  readonly initialized: Promise<void>;
  /** SDS secrets the static listeners and clusters take from files (src/xds/sds-file.ts), beside the stream. */
  private readonly sdsFiles: SdsFileSecrets;

  constructor(settings: AdsSettings, stats: XdsStats, apply: (set: DynamicResourceSet) => Promise<ApplyOutcome>, options: AdsClientOptions = {}) {
    this.settings = settings;
    this.stats = stats;
    this.apply = apply;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.types = { cds: new TypeState('cds'), eds: new TypeState('eds'), lds: new TypeState('lds'), rds: new TypeState('rds'), sds: new TypeState('sds') };
    // A type the bootstrap does not ask for (no lds_config / cds_config) is not subscribed to, and never waited for.
    if (!settings.lds) this.types.lds.ready = true;
    if (!settings.cds) this.types.cds.ready = true;
    this.node = nodeMessage(settings.node, options.userAgentVersion ?? '0.0.0');
    const schema = protoSchema();
    const reqName = settings.delta ? 'envoy.service.discovery.v3.DeltaDiscoveryRequest' : 'envoy.service.discovery.v3.DiscoveryRequest';
    const respName = settings.delta ? 'envoy.service.discovery.v3.DeltaDiscoveryResponse' : 'envoy.service.discovery.v3.DiscoveryResponse';
    const req = schema.lookupMessage(reqName);
    const resp = schema.lookupMessage(respName);
    if (req === undefined || resp === undefined) throw new Error(`${reqName} is missing from the bundled Envoy protos`);
    this.requestType = req.type;
    this.responseType = resp.type;
    this.initialized = new Promise((resolve) => {
      this.initializedResolve = resolve;
    });
    this.sdsFiles = new SdsFileSecrets(stats, (names) => this.enqueue(() => this.onSecretFiles(names)));
  }

  /** Opens the stream; the first complete set is applied when it arrives (see `initialized`). */
  start(): void {
    // Secret files are read now: the first set takes them with what the control plane sends.
    this.sdsFiles.setRefs(new Map((this.settings.sdsFiles ?? []).map((r) => [r.name, r.source])));
    const tls = this.settings.tls;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.primary_user_agent': 'legate',
      // As Envoy's gRPC client: no size limit on what a control plane sends (1,000 clusters exceed gRPC's 4 MiB).
      'grpc.max_receive_message_length': -1,
      // The channel's own reconnects follow the same back-off as the stream's.
      'grpc.initial_reconnect_backoff_ms': this.backoffBaseMs,
      'grpc.max_reconnect_backoff_ms': this.backoffMaxMs,
    };
    const keepalive = this.settings.keepalive;
    if (keepalive !== null) {
      channelOptions['grpc.keepalive_time_ms'] = keepalive.intervalMs;
      channelOptions['grpc.keepalive_timeout_ms'] = keepalive.timeoutMs;
      channelOptions['grpc.keepalive_permit_without_calls'] = 1;
    }
    let credentials = grpc.credentials.createInsecure();
    if (tls !== null) {
      // As Envoy without SAN matchers: the chain is verified against trusted_ca, the host name only when sni names one.
      credentials = grpc.credentials.createSsl(Buffer.from(tls.ca), tls.key === null ? null : Buffer.from(tls.key), tls.cert === null ? null : Buffer.from(tls.cert),
        tls.sni === '' ? { checkServerIdentity: () => undefined } : {});
      if (tls.sni !== '') channelOptions['grpc.ssl_target_name_override'] = tls.sni;
    }
    this.client = new grpc.Client(this.settings.target, credentials, channelOptions);
    if (this.settings.initialFetchTimeoutMs > 0) {
      this.initialTimer = setTimeout(() => {
        this.initialTimer = null;
        this.enqueue(() => this.onInitialFetchTimeout());
      }, this.settings.initialFetchTimeoutMs);
    }
    this.openStream();
  }

  stop(): void {
    this.stopped = true;
    this.sdsFiles.stop();
    for (const t of [this.reconnectTimer, this.warmTimer, this.initialTimer]) if (t !== null) clearTimeout(t);
    this.generation++;
    this.call?.cancel();
    this.call = null;
    this.client?.close();
    this.client = null;
    this.stats.setConnected(false);
  }

  /** The resources currently accepted, for a SIGHUP reload (static and dynamic coexist). */
  currentSet(): DynamicResourceSet {
    const list = (k: XdsKind): XdsResource[] => [...this.types[k].accepted.values()];
    return { listeners: list('lds'), clusters: list('cds'), routes: list('rds'), endpoints: list('eds'), secrets: [...list('sds'), ...this.sdsFiles.secrets()], versions: this.versions() };
  }

  /** Resources refused and not accepted since (/config_dump's error_state). */
  rejections(): XdsRejection[] {
    const out: XdsRejection[] = [];
    for (const k of XDS_KINDS) for (const r of this.types[k].rejected.values()) out.push(r);
    out.push(...this.sdsFiles.rejections());
    return out;
  }

  /**
   * Secret files changed: the set with their new secrets is applied (once the first set was), or the last good
   * ones stay. Before the first set, the next set the stream brings takes them.
   */
  private async onSecretFiles(names: string[]): Promise<void> {
    if (this.stopped) return;
    const change = this.sdsFiles.reread(names);
    if (change.names.length === 0) return;
    if (!this.isInitialized && !this.warm()) return;
    const outcome = await this.applySet();
    if (outcome.ok) this.sdsFiles.accept(change);
    else this.sdsFiles.undo(change, outcome.message);
  }

  /** Per type: the version of the last accepted response (for logs and the admin). */
  versions(): Record<XdsKind, string> {
    return { cds: this.types.cds.version, eds: this.types.eds.version, lds: this.types.lds.version, rds: this.types.rds.version, sds: this.types.sds.version };
  }

  private enqueue(job: () => Promise<void> | void): void {
    this.work = this.work.then(job).catch((err: unknown) => {
      log.error(`xds: ${(err as Error).stack ?? String(err)}`);
    });
  }

  // ---- the stream ----

  private openStream(): void {
    if (this.stopped || this.client === null) return;
    const gen = ++this.generation;
    const reqType = this.requestType;
    const respType = this.responseType;
    const call = this.client.makeBidiStreamRequest<Obj, Obj>(
      this.settings.delta ? DELTA_METHOD : SOTW_METHOD,
      (m: Obj) => Buffer.from(reqType.encode(reqType.fromObject(m)).finish()),
      (b: Buffer) => respType.decode(b) as unknown as Obj,
    );
    this.call = call;
    this.nodeSent = false;
    for (const k of XDS_KINDS) {
      const st = this.types[k];
      st.nonce = '';
      st.requested = false;
      st.sentNames.clear();
    }
    call.on('metadata', () => {
      if (gen === this.generation) this.stats.setConnected(true);
    });
    call.on('data', (resp: Obj) => {
      if (gen !== this.generation) return;
      this.stats.setConnected(true);
      this.attempt = 0;
      this.enqueue(() => (gen === this.generation ? this.onResponse(resp) : undefined));
    });
    const ended = (why: string): void => {
      if (gen !== this.generation) return;
      this.generation++;
      this.call = null;
      this.onStreamLost(why);
    };
    call.on('error', (err: Error) => ended(err.message));
    call.on('end', () => ended('the control plane closed the stream'));
    // The first requests: CDS and LDS (wildcard), EDS and RDS for what the resources held reference (a resumed
    // stream sends the versions it holds).
    this.enqueue(() => {
      if (gen !== this.generation) return;
      this.refreshSubscriptions(true);
      this.stats.setPendingRequests(0);
    });
  }

  private onStreamLost(why: string): void {
    this.stats.setConnected(false);
    this.stats.inc('lds', 'update_failure', null);
    this.stats.inc('cds', 'update_failure', null);
    if (this.stopped) return;
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(this.attempt, 20));
    const delay = Math.floor(Math.random() * ceiling);
    this.attempt++;
    // The requests a new stream sends first: one per type subscribed.
    this.stats.setPendingRequests(XDS_KINDS.filter((k) => this.types[k].wildcard || this.types[k].names.size > 0).length);
    log.warn(`xds: stream to '${this.settings.clusterName}' (${this.settings.target}) lost: ${why}; reconnecting in ${delay} ms (serving the last good config)`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openStream();
    }, delay);
  }

  private write(msg: Obj): void {
    if (this.call === null) return;
    if (!this.nodeSent || !this.settings.setNodeOnFirstMessageOnly) msg['node'] = this.node;
    this.nodeSent = true;
    this.call.write(msg);
  }

  // ---- subscriptions ----

  /**
   * Brings RDS/EDS subscriptions in line with what the accepted listeners and clusters reference and sends what
   * changed; `initial` (a new stream) sends every type's first request.
   */
  private refreshSubscriptions(initial: boolean): void {
    const now = Date.now();
    const wanted: Record<'rds' | 'eds' | 'sds', Set<string>> = { rds: new Set(), eds: new Set(), sds: new Set() };
    const listeners = [...this.settings.staticListeners, ...[...this.types.lds.accepted.values()].map((r) => r.value as Obj)];
    for (const n of routeNamesOf(listeners)) wanted.rds.add(n);
    const edsUsers = new Map<string, string[]>();
    for (const c of [...this.settings.staticClusters, ...[...this.types.cds.accepted.values()].map((r) => r.value as Obj)]) {
      const n = edsNameOf(c);
      if (n === undefined || n === '') continue;
      wanted.eds.add(n);
      const users = edsUsers.get(n) ?? [];
      users.push(String(c['name'] ?? ''));
      edsUsers.set(n, users);
    }
    const clusters = [...this.settings.staticClusters, ...[...this.types.cds.accepted.values()].map((r) => r.value as Obj)];
    for (const n of secretNamesOf([...listeners, ...clusters])) wanted.sds.add(n);
    this.stats.setSecretScopes(wanted.sds);
    this.stats.setRouteScopes(routeUsersOf(listeners));
    this.stats.setEndpointScopes(edsUsers);
    for (const k of XDS_KINDS) {
      const st = this.types[k];
      let changed = false;
      if (k === 'rds' || k === 'eds' || k === 'sds') {
        const want = wanted[k];
        for (const n of want) {
          if (!st.names.has(n)) {
            st.names.set(n, now);
            changed = true;
          }
        }
        for (const n of [...st.names.keys()]) {
          if (want.has(n)) continue;
          st.names.delete(n);
          // No longer referenced: forgotten (a later reference fetches it again), as Envoy unsubscribes.
          st.accepted.delete(n);
          changed = true;
        }
        if (st.names.size === 0 && !st.requested) continue;
      } else if ((k === 'lds' && !this.settings.lds) || (k === 'cds' && !this.settings.cds)) {
        continue;
      }
      if (initial ? true : changed) this.sendSubscription(st, initial || !st.requested);
    }
  }

  private sendSubscription(st: TypeState, first: boolean): void {
    if (this.call === null) return;
    st.requested = true;
    if (this.settings.delta) {
      const subscribe: string[] = [];
      const unsubscribe: string[] = [];
      if (!st.wildcard) {
        for (const n of st.names.keys()) if (!st.sentNames.has(n)) subscribe.push(n);
        for (const n of st.sentNames) if (!st.names.has(n)) unsubscribe.push(n);
        st.sentNames = new Set(st.names.keys());
      }
      const msg: Obj = { type_url: st.typeUrl, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe };
      if (first) {
        const initialVersions: Record<string, string> = {};
        for (const r of st.accepted.values()) initialVersions[r.name] = r.version;
        msg['initial_resource_versions'] = initialVersions;
      } else if (subscribe.length === 0 && unsubscribe.length === 0) {
        return;
      }
      this.write(msg);
      return;
    }
    this.write({
      version_info: st.version,
      type_url: st.typeUrl,
      response_nonce: st.nonce,
      resource_names: st.wildcard ? [] : [...st.names.keys()].sort(),
    });
  }

  private ack(st: TypeState): void {
    if (this.settings.delta) this.write({ type_url: st.typeUrl, response_nonce: st.nonce });
    else this.write({ version_info: st.version, type_url: st.typeUrl, response_nonce: st.nonce, resource_names: st.wildcard ? [] : [...st.names.keys()].sort() });
  }

  private nack(st: TypeState, message: string): void {
    const errorDetail = { code: INVALID_ARGUMENT, message };
    if (this.settings.delta) this.write({ type_url: st.typeUrl, response_nonce: st.nonce, error_detail: errorDetail });
    else {
      this.write({
        version_info: st.version, type_url: st.typeUrl, response_nonce: st.nonce,
        resource_names: st.wildcard ? [] : [...st.names.keys()].sort(), error_detail: errorDetail,
      });
    }
  }

  // ---- responses ----

  private async onResponse(resp: Obj): Promise<void> {
    const typeUrl = String(resp['type_url'] ?? '');
    const kind = kindOfTypeUrl(typeUrl);
    const nonce = String(resp['nonce'] ?? '');
    if (kind === undefined) {
      log.warn(`xds: ignoring a response of type '${typeUrl}' (Legate subscribes to LDS, RDS, CDS, EDS and SDS only)`);
      return;
    }
    const st = this.types[kind];
    st.nonce = nonce;
    const incoming: IncomingResource[] = [];
    let removed: string[] = [];
    let version: string;
    if (this.settings.delta) {
      version = String(resp['system_version_info'] ?? '');
      for (const r of (resp['resources'] as Obj[] | undefined) ?? []) {
        const any = (r['resource'] ?? {}) as Obj;
        incoming.push({ name: String(r['name'] ?? ''), version: String(r['version'] ?? ''), typeUrl: String(any['type_url'] ?? ''), bytes: (any['value'] as Uint8Array | undefined) ?? new Uint8Array(0) });
      }
      removed = ((resp['removed_resources'] as string[] | undefined) ?? []).map(String);
    } else {
      version = String(resp['version_info'] ?? '');
      for (const any of (resp['resources'] as Obj[] | undefined) ?? []) {
        incoming.push({ name: undefined, version, typeUrl: String(any['type_url'] ?? ''), bytes: (any['value'] as Uint8Array | undefined) ?? new Uint8Array(0) });
      }
    }
    await this.handleUpdate(st, version, incoming, removed);
  }

  private async handleUpdate(st: TypeState, version: string, incoming: IncomingResource[], removed: string[]): Promise<void> {
    const kind = st.kind;
    const label = XDS_TYPES[kind].label;
    const problems: string[] = [];
    /** What each resource of the response was, for error_state. */
    const sent: { name: string; json: Record<string, unknown> | null; problems: string[] }[] = [];
    // State of the world: LDS/CDS responses hold the whole set (an absent name is removed); RDS/EDS responses hold
    // the resources they name. Delta: every response is a change to what is held.
    const next = new Map(!this.settings.delta && st.wildcard ? [] : st.accepted);
    const seen = new Set<string>();
    const names: string[] = [];
    let changed = false;
    for (const r of incoming) {
      const check = checkResource(kind, r.typeUrl, r.bytes, r.name);
      names.push(check.name);
      sent.push({ name: check.name, json: check.json, problems: check.ok ? [] : check.problems });
      if (!check.ok) {
        for (const p of check.problems) problems.push(p);
        continue;
      }
      if (seen.has(check.name)) {
        problems.push(`${label} '${check.name}': sent twice in one response`);
        continue;
      }
      seen.add(check.name);
      // RDS/EDS: a resource nobody subscribed to (sent early, or after an unsubscribe crossed it) is ignored.
      if (!st.wildcard && !st.names.has(check.name)) continue;
      // last_updated moves only when the content does (a state-of-the-world response repeats what is unchanged).
      const before = st.accepted.get(check.name);
      const same = before !== undefined && JSON.stringify(before.value) === JSON.stringify(check.value);
      if (!same) changed = true;
      next.set(check.name, { name: check.name, version: r.version, value: check.value, lastUpdatedMs: same ? before.lastUpdatedMs : Date.now() });
    }
    for (const n of removed) next.delete(n);
    const scope = kind === 'lds' || kind === 'cds' ? null : names;
    this.stats.inc(kind, 'update_attempt', scope);
    const partial = problems.length > 0;
    if (partial && !st.wildcard) {
      // RDS/EDS: the response is refused as a whole.
      this.stats.inc(kind, 'update_rejected', scope);
      log.warn(`xds: ${label} update (version '${version}') rejected, the last good config stays:\n${problems.join('\n')}`);
      this.recordRejection(st, version, sent, null);
      this.nack(st, problems.join('\n'));
      return;
    }
    const refused = new Set(sent.filter((r) => r.problems.length > 0).map((r) => r.name));
    if (partial) {
      // LDS/CDS, as Envoy: the valid resources are taken; each refused one keeps the version held (if any), and the
      // response is NACKed with the problems of the refused ones.
      for (const n of refused) {
        const held = st.accepted.get(n);
        if (held !== undefined) next.set(n, held);
      }
      this.stats.inc(kind, 'update_rejected', scope);
      log.warn(`xds: ${label} update (version '${version}') partly rejected (the others are taken, these keep their last good version):\n${problems.join('\n')}`);
      this.recordRejection(st, version, sent, null);
    }
    for (const n of st.accepted.keys()) if (!next.has(n)) changed = true;
    if (incoming.length === 0 && removed.length === 0) this.stats.inc(kind, 'update_empty', null);
    const prev = st.accepted;
    const prevVersion = st.version;
    const wasReady = st.ready;
    st.accepted = next;
    // A NACK keeps the version of the last response accepted whole.
    if (!partial) st.version = version;
    st.ready = true;
    this.refreshSubscriptions(false);
    const accepted = names.filter((n) => !refused.has(n));
    const done = (): void => {
      if (partial) {
        for (const n of accepted) st.rejected.delete(n);
        this.nack(st, problems.join('\n'));
        return;
      }
      this.clearRejections(st, names);
      this.ack(st);
      this.stats.accepted(kind, scope, version);
    };
    if (!changed && this.isInitialized) {
      // The same resources again (a repeated response, a resumed stream): nothing to apply.
      done();
      return;
    }
    if (!this.warm()) {
      // Valid, and held until what it references arrives: the set is applied then.
      done();
      this.countWarming();
      this.scheduleWarmCheck();
      return;
    }
    const outcome = await this.applySet();
    if (outcome.ok) {
      done();
      return;
    }
    st.accepted = prev;
    st.version = prevVersion;
    st.ready = wasReady;
    this.refreshSubscriptions(false);
    if (!partial) this.stats.inc(kind, 'update_rejected', scope);
    log.warn(`xds: ${label} update (version '${version}') rejected, the last good config stays:\n${outcome.message}`);
    this.recordRejection(st, version, sent, outcome.message);
    this.nack(st, [...problems, outcome.message].join('\n'));
  }

  /** An accepted update: its resources (a state-of-the-world LDS/CDS one: every resource) are no longer refused. */
  private clearRejections(st: TypeState, names: readonly string[]): void {
    if (st.wildcard && !this.settings.delta) st.rejected.clear();
    else for (const n of names) st.rejected.delete(n);
  }

  /**
   * error_state for the resources of a refused response: each with its own problems; a refusal of the whole set
   * (`setMessage`) goes to the resources its lines name, or to all of the response when it names none of them.
   */
  private recordRejection(st: TypeState, version: string, sent: { name: string; json: Record<string, unknown> | null; problems: string[] }[], setMessage: string | null): void {
    const label = XDS_TYPES[st.kind].label;
    const now = Date.now();
    const lines = setMessage === null ? [] : setMessage.split('\n');
    const named = (n: string): string[] => lines.filter((l) => l.includes(`${label} '${n}'`));
    const anyNamed = sent.some((r) => named(r.name).length > 0);
    for (const r of sent) {
      let details: string[];
      if (setMessage === null) details = r.problems;
      else details = anyNamed ? named(r.name) : lines;
      if (details.length === 0) {
        // Not what was refused: a later accepted update of it clears nothing it had.
        continue;
      }
      st.rejected.set(r.name, { kind: st.kind, name: r.name, version, details: details.join('\n'), atMs: now, config: r.json });
    }
  }

  // ---- warming ----

  /**
   * Whether the set can be applied: LDS and CDS answered (or timed out), and every RDS/EDS name they reference
   * arrived or waited its initial_fetch_timeout.
   */
  private warm(): boolean {
    if (!this.types.lds.ready || !this.types.cds.ready) return false;
    const now = Date.now();
    const timeout = this.settings.initialFetchTimeoutMs;
    for (const k of ['rds', 'eds', 'sds'] as const) {
      const st = this.types[k];
      for (const [n, since] of st.names) {
        if (st.accepted.has(n)) continue;
        if (timeout > 0 && now - since >= timeout) continue;
        return false;
      }
    }
    return true;
  }

  /**
   * While a set is held: cluster_manager.warming_clusters (CDS clusters whose endpoints or secrets have not arrived)
   * and listener_manager.total_listeners_warming (LDS listeners whose route tables or secrets have not arrived).
   * Whatever set is applied next zeroes them (src/stats/manager-stats.ts).
   */
  private countWarming(): void {
    const waiting = (k: 'rds' | 'eds' | 'sds', n: string): boolean => this.types[k].names.has(n) && !this.types[k].accepted.has(n);
    let clusters = 0;
    for (const r of this.types.cds.accepted.values()) {
      const c = r.value as Obj;
      const eds = edsNameOf(c);
      if ((eds !== undefined && waiting('eds', eds)) || secretNamesOf([c]).some((n) => waiting('sds', n))) clusters++;
    }
    let listeners = 0;
    for (const r of this.types.lds.accepted.values()) {
      const l = r.value as Obj;
      if (routeNamesOf([l]).some((n) => waiting('rds', n)) || secretNamesOf([l]).some((n) => waiting('sds', n))) listeners++;
    }
    this.stats.setWarming(clusters, listeners);
  }

  private scheduleWarmCheck(): void {
    if (this.warmTimer !== null || this.settings.initialFetchTimeoutMs === 0) return;
    const now = Date.now();
    let earliest = Infinity;
    for (const k of ['rds', 'eds', 'sds'] as const) {
      const st = this.types[k];
      for (const [n, since] of st.names) if (!st.accepted.has(n)) earliest = Math.min(earliest, since + this.settings.initialFetchTimeoutMs);
    }
    if (earliest === Infinity) return;
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      this.enqueue(() => this.onWarmTimeout());
    }, Math.max(0, earliest - now) + 5);
  }

  private async onWarmTimeout(): Promise<void> {
    if (this.stopped) return;
    if (!this.warm()) {
      this.scheduleWarmCheck();
      return;
    }
    for (const k of ['rds', 'eds', 'sds'] as const) {
      const st = this.types[k];
      const missing = [...st.names.keys()].filter((n) => !st.accepted.has(n));
      if (missing.length === 0) continue;
      this.stats.inc(k, 'init_fetch_timeout', missing);
      log.warn(`xds: ${XDS_TYPES[k].label} ${missing.map((n) => `'${n}'`).join(', ')} did not arrive within initial_fetch_timeout: applying without`);
    }
    const outcome = await this.applySet();
    if (!outcome.ok) log.error(`xds: the resources held cannot be applied, the last good config stays:\n${outcome.message}`);
  }

  private async onInitialFetchTimeout(): Promise<void> {
    if (this.stopped || this.isInitialized) return;
    for (const k of ['lds', 'cds'] as const) {
      const st = this.types[k];
      if (st.ready) continue;
      st.ready = true;
      this.stats.inc(k, 'init_fetch_timeout', null);
    }
    log.warn(`xds: the control plane did not answer within initial_fetch_timeout (${this.settings.initialFetchTimeoutMs} ms): starting with what arrived`);
    if (!this.warm()) {
      this.scheduleWarmCheck();
      return;
    }
    const outcome = await this.applySet();
    if (!outcome.ok) log.error(`xds: the resources held cannot be applied:\n${outcome.message}`);
  }

  private async applySet(): Promise<ApplyOutcome> {
    const outcome = await this.apply(this.currentSet());
    if (outcome.ok) this.stats.setWarming(0, 0);
    if (outcome.ok && !this.isInitialized) {
      this.isInitialized = true;
      if (this.initialTimer !== null) clearTimeout(this.initialTimer);
      this.initialTimer = null;
      this.sdsFiles.acceptAll();
      this.initializedResolve();
    }
    return outcome;
  }
}

/** The bootstrap's normalized node as an envoy.config.core.v3.Node for requests, with Legate's user agent. */
function nodeMessage(node: Obj, version: string): Obj {
  const out: Obj = {};
  for (const k of ['id', 'cluster']) if (typeof node[k] === 'string') out[k] = node[k];
  if (node['locality'] !== undefined) out['locality'] = node['locality'];
  if (node['metadata'] !== undefined && typeof node['metadata'] === 'object') out['metadata'] = jsonToStruct(node['metadata'] as Obj);
  out['user_agent_name'] = 'legate';
  out['user_agent_version'] = version;
  return out;
}
