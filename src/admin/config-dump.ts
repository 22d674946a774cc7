// Primary thread (pure). Envoy's /config_dump (envoy.admin.v3.ConfigDump) from the running bootstrap: one dump per
// Envoy config tracker key, in its order (bootstrap, clusters, [endpoints with ?include_eds], listeners, scoped
// routes, routes, secrets), every message in proto3 JSON with secrets redacted (proto-json.ts). ?resource=,
// ?mask= and ?name_regex= as Envoy: a resource lists the elements of the first dump with that repeated field; a
// mask trims each dump (or each element, reaching into its Any) as protobuf's FieldMaskUtil::TrimMessage; the
// regex (RE2, full match, linear time) selects resources by name.

import type { ClusterView } from './admin-context.ts';
import { messageInfo, timestampJson, toProtoJson, typeUrl } from './proto-json.ts';
import { messageFacts, type FieldFacts } from '../config-loader/message-facts.ts';
import { protoSchema, type MessageInfo } from '../config-loader/proto-schema.ts';
import { compileRe2, type Re2Regex } from '../router/re2.ts';
import type { DynamicResourceSet, XdsKind, XdsRejection, XdsResource } from '../xds/resource-types.ts';

/** What the dump is made of: the normalized bootstrap in use, when it was loaded, and the host sets (include_eds). */
export interface ConfigDumpInput {
  readonly bootstrap: Record<string, unknown>;
  readonly lastUpdatedMs: number;
  readonly clusters: readonly ClusterView[];
  /** What an xDS control plane sent and is applied (src/xds): the dynamic_* sections; absent without xDS. */
  readonly dynamic?: DynamicResourceSet | null;
  /** xDS resources refused and not accepted since: error_state (and client_status NACKED). */
  readonly rejected?: readonly XdsRejection[];
}

export interface ConfigDumpQuery {
  readonly resource: string | null;
  readonly mask: string | null;
  readonly nameRegex: string | null;
  readonly includeEds: boolean;
}

export type ConfigDumpResult = { ok: true; dump: Record<string, unknown> } | { ok: false; status: number; message: string };

const ADMIN = 'envoy.admin.v3.';
type Json = Record<string, unknown>;

export function configDumpQuery(params: URLSearchParams): ConfigDumpQuery {
  return {
    resource: params.get('resource'),
    mask: params.get('mask'),
    nameRegex: params.get('name_regex'),
    includeEds: params.has('include_eds'),
  };
}

/** One tracked dump: its message type (without the package) and its content in proto3 JSON. */
interface TrackedDump {
  readonly type: string;
  readonly body: Json;
}

export function buildConfigDump(input: ConfigDumpInput | null, query: ConfigDumpQuery): ConfigDumpResult {
  let matcher: Re2Regex | null = null;
  if (query.nameRegex !== null && query.nameRegex !== '') {
    const r = compileRe2(query.nameRegex);
    if (typeof r === 'string') {
      return { ok: false, status: 400, message: `INVALID_ARGUMENT: Error while parsing name_regex from ${query.nameRegex}: ${r}` };
    }
    matcher = r;
  }
  const dumps = input === null ? [] : trackedDumps(input, matcher, query.includeEds);
  const mask = query.mask === null ? null : maskPaths(query.mask);
  const configs: Json[] = [];
  if (query.resource !== null) {
    const resource = query.resource;
    for (const d of dumps) {
      const info = messageInfo(ADMIN + d.type)!;
      const field = info.type.fields[resource];
      if (field === undefined) continue;
      if (!field.repeated) {
        return { ok: false, status: 400, message: `${resource} is not a repeated field. Use ?mask=${resource} to get only this field` };
      }
      const elementType = field.resolvedType === null ? '' : field.resolvedType.fullName.replace(/^\./, '');
      const elementInfo = messageInfo(elementType)!;
      for (const element of (d.body[resource] ?? []) as Json[]) {
        let trimmed = element;
        if (mask !== null) {
          const t = trimResource(element, elementInfo, mask);
          if (t === null) {
            const debug = mask.map((p) => `paths: "${p}"\n`).join('');
            return { ok: false, status: 400, message: `FieldMask ${debug} could not be successfully used.` };
          }
          trimmed = t;
        }
        configs.push({ '@type': typeUrl(elementType), ...trimmed });
      }
      return { ok: true, dump: configs.length === 0 ? {} : { configs } };
    }
    return { ok: false, status: 404, message: `${resource} not found in config dump` };
  }
  for (const d of dumps) {
    let body = d.body;
    if (mask !== null) {
      const info = messageInfo(ADMIN + d.type)!;
      if (!pathsValid(info, mask)) continue; // another dump's mask: skipped, as Envoy
      body = trim(body, pathTree(mask));
    }
    configs.push({ '@type': typeUrl(ADMIN + d.type), ...body });
  }
  if (configs.length === 0 && mask !== null) {
    return { ok: false, status: 400, message: `FieldMask ${query.mask} could not be successfully applied to any configs.` };
  }
  return { ok: true, dump: configs.length === 0 ? {} : { configs } };
}

function trackedDumps(input: ConfigDumpInput, matcher: Re2Regex | null, includeEds: boolean): TrackedDump[] {
  const b = input.bootstrap;
  const lastUpdated = timestampJson(input.lastUpdatedMs);
  const named = (name: unknown): boolean => matcher === null || matcher.fullMatch(typeof name === 'string' ? name : '');
  const sr = (b['static_resources'] ?? {}) as Json;
  const listeners = (sr['listeners'] ?? []) as Json[];
  const clusters = (sr['clusters'] ?? []) as Json[];

  const staticClusters = clusters.filter((c) => named(c['name'])).map((c) => ({
    cluster: anyOf('envoy.config.cluster.v3.Cluster', c),
    last_updated: lastUpdated,
  }));
  const staticListeners = listeners.filter((l) => named(l['name'])).map((l) => ({
    listener: anyOf('envoy.config.listener.v3.Listener', l),
    last_updated: lastUpdated,
  }));
  const staticRoutes = inlineRouteConfigs(listeners).filter((r) => named(r['name'])).map((r) => ({
    route_config: anyOf('envoy.config.route.v3.RouteConfiguration', r),
    last_updated: lastUpdated,
  }));
  const dyn = input.dynamic ?? null;
  const dynamicOf = (rs: readonly XdsResource[] | undefined, field: string, fullName: string): Json[] =>
    (rs ?? []).filter((r) => named(r.name)).map((r) => ({ version_info: r.version, [field]: anyOf(fullName, r.value as Json), last_updated: timestampJson(r.lastUpdatedMs) }));
  const rejected = input.rejected ?? [];
  const dynamicClusters = withErrors(dynamicOf(dyn?.clusters, 'cluster', 'envoy.config.cluster.v3.Cluster'), 'cluster', 'cds', rejected, named);
  const dynamicListeners = withErrors((dyn?.listeners ?? []).filter((r) => named(r.name)).map((r): Json => ({
    name: r.name,
    active_state: { version_info: r.version, listener: anyOf('envoy.config.listener.v3.Listener', r.value as Json), last_updated: timestampJson(r.lastUpdatedMs) },
  })), null, 'lds', rejected, named);
  const dynamicRoutes = withErrors(dynamicOf(dyn?.routes, 'route_config', 'envoy.config.route.v3.RouteConfiguration'), 'route_config', 'rds', rejected, named);
  const dynamicSecrets = withErrors((dyn?.secrets ?? []).filter((r) => named(r.name)).map((r): Json => ({
    name: r.name, version_info: r.version, last_updated: timestampJson(r.lastUpdatedMs), secret: anyOf('envoy.extensions.transport_sockets.tls.v3.Secret', r.value as Json),
  })), null, 'sds', rejected, named);
  const versionOf = (v: string | undefined): Json => (v === undefined || v === '' ? {} : { version_info: v });
  const out: TrackedDump[] = [
    { type: 'BootstrapConfigDump', body: { bootstrap: toProtoJson(b, 'envoy.config.bootstrap.v3.Bootstrap'), last_updated: lastUpdated } },
    { type: 'ClustersConfigDump', body: { ...versionOf(dyn?.versions.cds), ...nonEmpty({ static_clusters: staticClusters, dynamic_active_clusters: dynamicClusters }) } },
  ];
  if (includeEds && input.clusters.length > 0) {
    // Clusters of type EDS show what EDS sent; the others the hosts they resolved to.
    const edsClusters = new Set((dyn?.clusters ?? []).filter((c) => c.value['type'] === 'EDS').map((c) => c.name));
    const endpoints = input.clusters.filter((c) => named(c.name) && !edsClusters.has(c.name)).map((c) => ({ endpoint_config: loadAssignment(c) }));
    const dynamicEndpoints = withErrors(dynamicOf(dyn?.endpoints, 'endpoint_config', 'envoy.config.endpoint.v3.ClusterLoadAssignment'), 'endpoint_config', 'eds', rejected, named);
    out.push({ type: 'EndpointsConfigDump', body: nonEmpty({ static_endpoint_configs: endpoints, dynamic_endpoint_configs: dynamicEndpoints }) });
  }
  out.push(
    { type: 'ListenersConfigDump', body: { ...versionOf(dyn?.versions.lds), ...nonEmpty({ static_listeners: staticListeners, dynamic_listeners: dynamicListeners }) } },
    { type: 'ScopedRoutesConfigDump', body: {} },
    { type: 'RoutesConfigDump', body: nonEmpty({ static_route_configs: staticRoutes, dynamic_route_configs: dynamicRoutes }) },
    // Inline and file TLS material shows (redacted) in the listeners and clusters; static_resources.secrets is not
    // supported yet. SDS secrets (src/xds) are dynamic_active_secrets, their private keys "[redacted]" as Envoy.
    { type: 'SecretsConfigDump', body: nonEmpty({ dynamic_active_secrets: dynamicSecrets }) },
  );
  return out;
}

const XDS_MESSAGE: Readonly<Record<XdsKind, string>> = {
  lds: 'envoy.config.listener.v3.Listener', cds: 'envoy.config.cluster.v3.Cluster',
  rds: 'envoy.config.route.v3.RouteConfiguration', eds: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  sds: 'envoy.extensions.transport_sockets.tls.v3.Secret',
};

/**
 * Adds error_state + client_status NACKED (Envoy's UpdateFailureState) to the dynamic entries of `kind` that the
 * control plane's last update of them refused; a refused resource with no accepted version gets an entry of its own.
 * `field` holds the resource in an entry (null: a listener, named by `name`).
 */
function withErrors(entries: Json[], field: string | null, kind: XdsKind, rejected: readonly XdsRejection[], named: (n: unknown) => boolean): Json[] {
  const nameOf = (e: Json): unknown => (field === null ? e['name'] : (e[field] as Json | undefined)?.[kind === 'eds' ? 'cluster_name' : 'name']);
  for (const r of rejected) {
    if (r.kind !== kind || !named(r.name)) continue;
    const errorState: Json = { details: r.details, last_update_attempt: timestampJson(r.atMs), version_info: r.version };
    if (r.config !== null) {
      try {
        errorState['failed_configuration'] = anyOf(XDS_MESSAGE[kind], r.config as Json);
      } catch {
        // A refused resource normalized only in part: shown without it rather than not at all.
      }
    }
    let entry = entries.find((e) => nameOf(e) === r.name);
    if (entry === undefined) {
      entry = field === null ? { name: r.name } : {};
      entries.push(entry);
    }
    entry['error_state'] = errorState;
    entry['client_status'] = 'NACKED';
  }
  return entries;
}

/** proto3 JSON leaves out empty repeated fields. */
function nonEmpty(fields: Record<string, unknown[]>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(fields)) if (v.length > 0) out[k] = v;
  return out;
}

function anyOf(fullName: string, normalized: Json): Json {
  return { '@type': typeUrl(fullName), ...(toProtoJson(normalized, fullName) as Json) };
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Every HTTP connection manager's inline route_config, in listener and chain order (one per manager, as Envoy). */
function inlineRouteConfigs(listeners: readonly Json[]): Json[] {
  const out: Json[] = [];
  for (const l of listeners) {
    const chains = [...((l['filter_chains'] ?? []) as Json[])];
    if (l['default_filter_chain'] !== undefined) chains.push(l['default_filter_chain'] as Json);
    for (const chain of chains) {
      for (const f of (chain['filters'] ?? []) as Json[]) {
        const tc = f['typed_config'] as Json | undefined;
        if (tc?.['@type'] === HCM_TYPE && tc['route_config'] !== undefined) out.push(tc['route_config'] as Json);
      }
    }
  }
  return out;
}

/** ?include_eds: a cluster's hosts as the ClusterLoadAssignment Envoy dumps (one locality entry per host). */
function loadAssignment(c: ClusterView): Json {
  const endpoints = c.hosts.map((h) => {
    const lb: Json = {
      endpoint: {
        address: { socket_address: { address: h.address, port_value: h.port } },
        health_check_config: {},
        ...(h.hostname === '' ? {} : { hostname: h.hostname }),
      },
      // A host passing its checks while pending removal, or degraded, is not unhealthy.
      health_status: h.healthFlags.includes('/failed_') ? 'UNHEALTHY' : h.healthFlags.includes('/degraded_') ? 'DEGRADED' : 'HEALTHY',
      load_balancing_weight: h.weight,
    };
    const e: Json = { locality: {}, lb_endpoints: [lb] };
    if (h.priority !== 0) e['priority'] = h.priority;
    return e;
  });
  return {
    '@type': typeUrl('envoy.config.endpoint.v3.ClusterLoadAssignment'),
    cluster_name: c.name,
    ...(endpoints.length === 0 ? {} : { endpoints }),
    policy: { overprovisioning_factor: 140 },
  };
}

// ---- field masks --------------------------------------------------------------------------------------------

/** protobuf's FieldMaskUtil::FromString: comma-separated paths, empty ones skipped. */
function maskPaths(mask: string): string[] {
  return mask.split(',').filter((p) => p !== '');
}

/** FieldMaskUtil::GetFieldDescriptors: every component a field; all but the last singular messages. */
function pathsValid(info: MessageInfo, paths: readonly string[]): boolean {
  const schema = protoSchema();
  for (const path of paths) {
    let current: MessageInfo | undefined = info;
    const parts = path.split('.');
    for (let i = 0; i < parts.length; i++) {
      if (current === undefined) return false;
      const f: FieldFacts | undefined = messageFacts(current, schema).fields.find((x) => x.name === parts[i]);
      if (f === undefined) return false;
      if (i < parts.length - 1) {
        if (f.valueKind !== 'message' || f.repeated || f.isMap) return false;
        current = f.message;
      }
    }
  }
  return true;
}

type PathTree = Map<string, PathTree | true>;

function pathTree(paths: readonly string[]): PathTree {
  const root: PathTree = new Map();
  for (const path of paths) {
    let node = root;
    const parts = path.split('.');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const existing = node.get(part);
      if (existing === true) break; // a shorter path already keeps all of it
      if (i === parts.length - 1) {
        node.set(part, true);
        break;
      }
      let next = existing;
      if (next === undefined) {
        next = new Map();
        node.set(part, next);
      }
      node = next;
    }
  }
  return root;
}

/** TrimMessage on proto3 JSON: only the fields the tree names; '@type' of an Any stays. */
function trim(obj: Json, tree: PathTree): Json {
  const out: Json = {};
  if (typeof obj['@type'] === 'string') out['@type'] = obj['@type'];
  for (const [k, sub] of tree) {
    const v = obj[k];
    if (v === undefined) continue;
    if (sub === true) out[k] = v;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = trim(v as Json, sub);
  }
  return out;
}

/**
 * A mask on one element of a resource list, as Envoy's trimResourceMessage: paths through the element's (single)
 * Any field are applied to the message inside it, the rest to the element. null when a path is not valid.
 */
function trimResource(element: Json, info: MessageInfo, paths: readonly string[]): Json | null {
  const facts = messageFacts(info, protoSchema());
  const outer: string[] = [];
  const inner: string[] = [];
  let anyField = '';
  for (const path of paths) {
    const parts = path.split('.');
    const f = facts.fields.find((x) => x.name === parts[0]);
    if (f !== undefined && f.wellKnown === 'any' && !f.repeated && !f.isMap && (anyField === '' || anyField === f.name)) {
      anyField = f.name;
      outer.push(f.name);
      if (parts.length > 1) inner.push(parts.slice(1).join('.'));
    } else {
      outer.push(path);
    }
  }
  if (!pathsValid(info, outer)) return null;
  const trimmed = trim(element, pathTree(outer));
  if (anyField !== '' && inner.length > 0) {
    const packed = element[anyField] as Json | undefined;
    if (packed !== undefined) {
      const url = String(packed['@type'] ?? '');
      const innerInfo = messageInfo(url.slice(url.lastIndexOf('/') + 1));
      if (innerInfo === undefined || !pathsValid(innerInfo, inner)) return null;
      trimmed[anyField] = trim(packed, pathTree(inner));
    }
  }
  return trimmed;
}
