// Worker thread. envoy.filters.network.rbac: a filter chain's RBAC network filters, evaluated once per connection
// when it is placed on the chain (plaintext) or when its TLS handshake is done (so `authenticated` sees the client
// certificate), before the terminal filter (http_connection_manager, tcp_proxy) gets it. shadow_rules are counted in
// <stat_prefix>.rbac.<shadow_rules_stat_prefix>shadow_{allowed,denied}; rules in <stat_prefix>.rbac.{allowed,denied},
// and a denied connection is closed. A connection's attributes do not change after it is placed, so Envoy's
// ONE_TIME_ON_FIRST_BYTE and CONTINUOUS decide the same; Legate decides before the first byte (tcp_proxy then never
// connects upstream for a denied connection, where Envoy connects and closes on the first byte).

import type net from 'node:net';
import { compileRbacRules, type NetworkRbacConfig, type RbacRules } from '../../src/filters/rbac-config.ts';
import { RbacInput, peerIdentityOf } from '../../src/filters/rbac-policy.ts';
import type { ConnectionFacts } from '../../src/snapshot/filter-chain-matcher.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';

/** Each filter's rules, compiled once per config version in this worker (keyed by its snapshot object). */
const compiled = new WeakMap<NetworkRbacConfig, RbacRules>();

function rulesOf(config: NetworkRbacConfig): RbacRules {
  let r = compiled.get(config);
  if (r === undefined) {
    // Checked by the primary already (src/filters/rbac-config.ts).
    r = compileRbacRules(config.config, 'rbac', [], false);
    compiled.set(config, r);
  }
  return r;
}

function inputOf(socket: net.Socket, facts: ConnectionFacts | null): RbacInput {
  const input = new RbacInput();
  input.directRemoteIp = facts?.directRemoteIp ?? socket.remoteAddress ?? '';
  input.remoteIp = facts?.remoteIp ?? socket.remoteAddress ?? '';
  input.localIp = facts?.localIp ?? socket.localAddress ?? '';
  input.localPort = facts?.localPort ?? socket.localPort ?? 0;
  const sni = (socket as { servername?: unknown }).servername;
  input.serverName = typeof sni === 'string' && sni !== '' ? sni : (facts?.serverName ?? '');
  input.peer = peerIdentityOf(socket);
  return input;
}

/**
 * Runs the chain's RBAC network filters in order on a new connection; false when one denies it (the caller closes
 * it). `facts`: what the filter chain match saw (the tls_inspector's SNI), or null.
 */
export function networkRbacAllows(filters: readonly NetworkRbacConfig[], socket: net.Socket, facts: ConnectionFacts | null, stats: WorkerStatsStore): boolean {
  const input = inputOf(socket, facts);
  const values = stats.values;
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i]!;
    const rules = rulesOf(f);
    const slots = f.slots;
    const shadow = rules.shadowRules;
    if (shadow !== null) {
      const ok = shadow.evaluate(input);
      if (slots !== null) values[slots[ok ? 'shadow_allowed' : 'shadow_denied']!]++;
    }
    const engine = rules.rules;
    if (engine === null) continue;
    if (engine.evaluate(input)) {
      if (slots !== null) values[slots['allowed']!]++;
      continue;
    }
    if (slots !== null) values[slots['denied']!]++;
    return false;
  }
  return true;
}
