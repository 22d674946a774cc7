// Any thread (pure; the snapshot compiler calls it per listener, the primary fills the slots). The TLS-related
// settings of one listener: whether the tls_inspector listener filter runs, how long listener filters may take
// (listener_filters_timeout, continue_on_listener_filters_timeout), and the stat slots the inspector and the
// listener's TLS transport sockets write (tls_inspector.*, listener.<address>.ssl.*).

import type { LISTENER_TLS_STATS, ScopeSlots, TLS_INSPECTOR_STATS } from '../stats/definitions.ts';

export type TlsInspectorSlots = ScopeSlots<typeof TLS_INSPECTOR_STATS>;
export type ListenerTlsSlots = ScopeSlots<typeof LISTENER_TLS_STATS>;

export const TLS_INSPECTOR_NAME = 'envoy.filters.listener.tls_inspector';
/** Envoy's default listener_filters_timeout. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

export interface ListenerTlsConfig {
  /** envoy.filters.listener.tls_inspector is one of the listener_filters. */
  tlsInspector: boolean;
  /** listener_filters_timeout; 0 = none (Envoy: an explicit 0s disables it). */
  listenerFiltersTimeoutMs: number;
  /** On that timeout: true = go on to the filter chain match with what is known (raw_buffer), false = close. */
  continueOnListenerFiltersTimeout: boolean;
  /** tls_inspector.* (one scope for the whole server, as in Envoy); null until the primary assigns slots. */
  inspectorSlots: TlsInspectorSlots | null;
  /** listener.<address>.ssl.* and the listener filter / transport socket counters; null until assigned. */
  slots: ListenerTlsSlots | null;
}

/**
 * A normalized envoy.config.listener.v3.Listener (durations already in ms) and the names of its listener filters.
 * Nothing here can be wrong once the loader has checked types, so there are no problems to report.
 */
export function compileListenerTlsConfig(listener: Readonly<Record<string, unknown>>, listenerFilters: readonly string[]): ListenerTlsConfig {
  const timeout = listener['listener_filters_timeout'];
  return {
    tlsInspector: listenerFilters.includes(TLS_INSPECTOR_NAME),
    listenerFiltersTimeoutMs: typeof timeout === 'number' && timeout >= 0 ? timeout : DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
    continueOnListenerFiltersTimeout: listener['continue_on_listener_filters_timeout'] === true,
    inspectorSlots: null,
    slots: null,
  };
}

/** FilterChain.transport_socket_connect_timeout in ms; 0 when absent (no deadline of Envoy's own). */
export function transportSocketConnectTimeoutOf(chain: Readonly<Record<string, unknown>>): number {
  const v = chain['transport_socket_connect_timeout'];
  return typeof v === 'number' && v > 0 ? v : 0;
}
