// Any thread (pure). The xDS resource types Legate subscribes to, with Envoy's type URLs and the names people read.

export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ROUTE_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const ENDPOINT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** Short key of a resource type: the order is the order Envoy subscribes in on a new stream (CDS, EDS, LDS, RDS). */
export type XdsKind = 'cds' | 'eds' | 'lds' | 'rds' | 'sds';
export const XDS_KINDS: readonly XdsKind[] = ['cds', 'eds', 'lds', 'rds', 'sds'];

export interface XdsTypeInfo {
  readonly kind: XdsKind;
  readonly typeUrl: string;
  /** The message full name the config loader validates the resource as. */
  readonly messageName: string;
  /** What a person calls a resource of this type in an error ("Listener 'ingress' ..."). */
  readonly label: string;
  /** LDS and CDS are wildcard: the whole set is in each state-of-the-world response, an absent name is removed. */
  readonly wildcard: boolean;
  /** The field that names the resource. */
  readonly nameField: string;
}

export const XDS_TYPES: Readonly<Record<XdsKind, XdsTypeInfo>> = {
  lds: { kind: 'lds', typeUrl: LISTENER_TYPE_URL, messageName: 'envoy.config.listener.v3.Listener', label: 'Listener', wildcard: true, nameField: 'name' },
  cds: { kind: 'cds', typeUrl: CLUSTER_TYPE_URL, messageName: 'envoy.config.cluster.v3.Cluster', label: 'Cluster', wildcard: true, nameField: 'name' },
  rds: { kind: 'rds', typeUrl: ROUTE_TYPE_URL, messageName: 'envoy.config.route.v3.RouteConfiguration', label: 'RouteConfiguration', wildcard: false, nameField: 'name' },
  sds: { kind: 'sds', typeUrl: SECRET_TYPE_URL, messageName: 'envoy.extensions.transport_sockets.tls.v3.Secret', label: 'Secret', wildcard: false, nameField: 'name' },
  eds: { kind: 'eds', typeUrl: ENDPOINT_TYPE_URL, messageName: 'envoy.config.endpoint.v3.ClusterLoadAssignment', label: 'ClusterLoadAssignment', wildcard: false, nameField: 'cluster_name' },
};

export function kindOfTypeUrl(typeUrl: string): XdsKind | undefined {
  for (const k of XDS_KINDS) if (XDS_TYPES[k].typeUrl === typeUrl) return k;
  return undefined;
}

/** One accepted resource: its name, the version the server gave it (delta) and its normalized message. */
export interface XdsResource {
  readonly name: string;
  readonly version: string;
  readonly value: Readonly<Record<string, unknown>>;
  /** When this content was first accepted (ms since the epoch; /config_dump's last_updated). */
  readonly lastUpdatedMs: number;
}

/** A resource the last update of its type refused (/config_dump's error_state). */
export interface XdsRejection {
  readonly kind: XdsKind;
  readonly name: string;
  /** The version_info of the refused response. */
  readonly version: string;
  /** The problems, one a line. */
  readonly details: string;
  readonly atMs: number;
  /** The refused resource, normalized as far as it could be (shown redacted), or null when it did not decode. */
  readonly config: Readonly<Record<string, unknown>> | null;
}

/**
 * The dynamic half of a config: every accepted resource by type, in plain data (it crosses to the compile thread).
 */
export interface DynamicResourceSet {
  listeners: XdsResource[];
  clusters: XdsResource[];
  routes: XdsResource[];
  endpoints: XdsResource[];
  /** SDS secrets the listeners' and clusters' TLS contexts name (absent: none). */
  secrets?: XdsResource[];
  /** Per type, the version_info / system_version_info of the last accepted response. */
  versions: Readonly<Record<XdsKind, string>>;
}
