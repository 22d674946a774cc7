// Any thread (pure). How "not supported yet" is decided and worded: the schema walk asks these once a field is
// known to be valid Envoy (supported-fields.ts says what Legate implements).

import { canonicalEnumName, type FieldFacts } from './message-facts.ts';
import type { SourceNode } from './source-node.ts';
import type { SourcePosition } from './types.ts';

/** `not supported yet: <what> (line N)`; `what` is the field path unless a better name is given. */
export function notSupportedMessage(what: string, position: SourcePosition | undefined): string {
  return position === undefined ? `not supported yet: ${what}` : `not supported yet: ${what} (line ${position.line})`;
}

/**
 * Whether a value is, in protobuf terms, the same as leaving the field out: null, an empty list or map, or a
 * scalar without presence at its default (false, 0, "", the enum's 0 value). Such a value asks for nothing
 * Legate lacks, so it is not reported as unsupported.
 */
export function isEffectivelyUnset(f: FieldFacts, node: SourceNode): boolean {
  if (node.kind === 'scalar' && node.scalar === null) return true;
  if (f.repeated) return node.kind === 'seq' && node.items.length === 0;
  if (f.isMap) return node.kind === 'map' && node.entries.length === 0;
  if (f.hasPresence || node.kind !== 'scalar') return false;
  const v = node.scalar;
  if (f.valueKind === 'enum') {
    if (typeof v === 'number') return v === 0;
    if (typeof v !== 'string' || f.enumType === undefined) return false;
    const name = canonicalEnumName(f.enumType, v);
    return name !== undefined && f.enumType.values[name] === 0;
  }
  if (f.scalarType === 'bool') return v === false;
  if (f.scalarType === 'string' || f.scalarType === 'bytes') return v === '';
  return v === 0 || v === '0';
}

const EXTENSION_KINDS: Readonly<Record<string, string>> = {
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.typed_config': 'http filter',
  'envoy.config.listener.v3.Filter.typed_config': 'network filter',
  'envoy.config.listener.v3.ListenerFilter.typed_config': 'listener filter',
  'envoy.config.listener.v3.UdpListenerConfig.typed_config': 'udp listener',
  'envoy.config.accesslog.v3.AccessLog.typed_config': 'access logger',
  'envoy.config.core.v3.TransportSocket.typed_config': 'transport socket',
  'envoy.config.cluster.v3.Cluster.typed_extension_protocol_options': 'protocol options',
  'envoy.config.cluster.v3.Filter.typed_config': 'upstream network filter',
  'envoy.config.trace.v3.Tracing.Http.typed_config': 'tracer',
  'envoy.config.core.v3.TypedExtensionConfig.typed_config': 'extension',
  'envoy.config.route.v3.FilterConfig.config': 'per-route filter config',
};

/** What a person calls the extension an Any field configures: "http filter", "access logger", ... */
export function extensionKindOf(f: FieldFacts): string {
  const known = EXTENSION_KINDS[f.contextKey];
  if (known !== undefined) return known;
  if (f.name === 'typed_per_filter_config') return 'per-route filter config';
  return 'extension';
}

