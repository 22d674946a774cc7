// Any thread (pure; the config pipeline). A listener's identity as Envoy's listener manager compares versions: the
// listener's own fields (everything but its filter chains) and each filter chain, hashed from the config as written
// or as the control plane sent it, before RDS route tables and SDS secrets are put inline (a new route table or
// secret does not modify a listener in Envoy: it reaches the connections the listener already has).

import { createHash } from 'node:crypto';

/** The key under which the xDS merge leaves a listener's identity, computed before it resolves RDS/SDS. */
export const LISTENER_IDENTITY = '@listener_identity';

export interface ListenerIdentity {
  /** The listener without filter_chains and default_filter_chain. */
  readonly listener: string;
  /** Each of filter_chains, in order. */
  readonly chains: readonly string[];
  /** default_filter_chain; "" when there is none. */
  readonly defaultChain: string;
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/**
 * A connection manager's inline route_config is left out, as an RDS route table is: the connection manager takes
 * its route table per request, so a new one reaches the connections it has (their next request) without draining
 * them. (Envoy drains a chain whose inline route_config changed; Legate's reloads never did.)
 */
function withoutInlineRoutes(this: unknown, key: string, value: unknown): unknown {
  if (key === 'route_config' && (this as Record<string, unknown>)['@type'] === HCM_TYPE) return undefined;
  return value;
}

function hashOf(v: unknown): string {
  return createHash('sha1').update(JSON.stringify(v, withoutInlineRoutes) ?? '').digest('base64');
}

/** The identity of a normalized listener: the one the merge left on it, else hashed from it as it is. */
export function listenerIdentityOf(l: Record<string, unknown>): ListenerIdentity {
  const left = l[LISTENER_IDENTITY] as ListenerIdentity | undefined;
  if (left !== undefined) return left;
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(l)) if (k !== 'filter_chains' && k !== 'default_filter_chain' && k !== LISTENER_IDENTITY) own[k] = l[k];
  const chains = Array.isArray(l['filter_chains']) ? (l['filter_chains'] as unknown[]).map(hashOf) : [];
  return { listener: hashOf(own), chains, defaultChain: l['default_filter_chain'] === undefined ? '' : hashOf(l['default_filter_chain']) };
}
