// Any thread (pure). envoy.config.core.v3.Http2ProtocolOptions compiled once, for a connection manager (downstream)
// or a cluster (upstream). Defaults follow Envoy's edge recommendations where the issue of a default matters for
// safety (100 concurrent streams, 64 KiB stream and 1 MiB connection windows), Envoy's own defaults otherwise.

import type { Http2Settings } from './snapshot-types.ts';

export interface Http2OptionsProblem {
  readonly code: 'bad_value' | 'not_supported';
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, unknown>;

export const HTTP2_DEFAULTS: Http2Settings = Object.freeze({
  keepalive: null,
  maxConcurrentStreams: 100,
  initialStreamWindowSize: 65_536,
  initialConnectionWindowSize: 1_048_576,
  hpackTableSize: 4096,
  maxOutboundFrames: 10_000,
  maxOutboundControlFrames: 1000,
  maxConsecutiveInboundFramesWithEmptyPayload: 1,
  maxInboundPriorityFramesPerStream: 100,
  maxInboundWindowUpdateFramesPerDataFrameSent: 10,
  streamErrorOnInvalidHttpMessaging: false,
});

function num(o: Obj, key: string, dflt: number): number {
  const v = o[key];
  return v === undefined || v === null ? dflt : Number(v);
}

/**
 * `o` is the normalized Http2ProtocolOptions (the loader has checked types and PGV ranges). `hcmStreamError` is the
 * connection manager's stream_error_on_invalid_http_message (undefined when unset or for a cluster): it overrides
 * the deprecated stream_error_on_invalid_http_messaging, and override_stream_error_on_invalid_http_message overrides
 * both, as in Envoy.
 */
export function compileHttp2Options(o: Obj, path: string, problems: Http2OptionsProblem[], hcmStreamError?: unknown): Http2Settings {
  const override = o['override_stream_error_on_invalid_http_message'];
  const legacy = o['stream_error_on_invalid_http_messaging'];
  const streamError = typeof override === 'boolean' ? override
    : typeof hcmStreamError === 'boolean' ? hcmStreamError
      : legacy === true;
  const settings: Http2Settings = {
    keepalive: compileKeepalive(o['connection_keepalive'], `${path}.connection_keepalive`, problems),
    maxConcurrentStreams: num(o, 'max_concurrent_streams', HTTP2_DEFAULTS.maxConcurrentStreams),
    initialStreamWindowSize: num(o, 'initial_stream_window_size', HTTP2_DEFAULTS.initialStreamWindowSize),
    initialConnectionWindowSize: num(o, 'initial_connection_window_size', HTTP2_DEFAULTS.initialConnectionWindowSize),
    hpackTableSize: num(o, 'hpack_table_size', HTTP2_DEFAULTS.hpackTableSize),
    maxOutboundFrames: num(o, 'max_outbound_frames', HTTP2_DEFAULTS.maxOutboundFrames),
    maxOutboundControlFrames: num(o, 'max_outbound_control_frames', HTTP2_DEFAULTS.maxOutboundControlFrames),
    maxConsecutiveInboundFramesWithEmptyPayload: num(o, 'max_consecutive_inbound_frames_with_empty_payload', HTTP2_DEFAULTS.maxConsecutiveInboundFramesWithEmptyPayload),
    maxInboundPriorityFramesPerStream: num(o, 'max_inbound_priority_frames_per_stream', HTTP2_DEFAULTS.maxInboundPriorityFramesPerStream),
    maxInboundWindowUpdateFramesPerDataFrameSent: num(o, 'max_inbound_window_update_frames_per_data_frame_sent', HTTP2_DEFAULTS.maxInboundWindowUpdateFramesPerDataFrameSent),
    streamErrorOnInvalidHttpMessaging: streamError,
  };
  if (settings.maxInboundWindowUpdateFramesPerDataFrameSent < 1) {
    problems.push({ code: 'bad_value', path: `${path}.max_inbound_window_update_frames_per_data_frame_sent`, message: 'must be at least 1' });
  }
  if (settings.maxConsecutiveInboundFramesWithEmptyPayload < 1) {
    problems.push({ code: 'bad_value', path: `${path}.max_consecutive_inbound_frames_with_empty_payload`, message: 'must be at least 1' });
  }
  return Object.freeze(settings);
}

/** connection_keepalive: timeout is required (PGV); interval defaults to... none: Envoy sends PINGs only with one. */
function compileKeepalive(v: unknown, path: string, problems: Http2OptionsProblem[]): Http2Settings['keepalive'] {
  if (v === undefined || v === null) return null;
  const k = v as Obj;
  for (const key of Object.keys(k)) {
    if (key === 'connection_idle_interval') {
      problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `not supported yet: ${path}.${key}` });
    }
  }
  const intervalMs = num(k, 'interval', 0);
  const timeoutMs = num(k, 'timeout', 0);
  if (intervalMs <= 0) {
    // Envoy: without an interval only connection_idle_interval pings, which Legate does not do yet.
    problems.push({ code: 'not_supported', path: `${path}.interval`, message: `not supported yet: ${path} without an interval (PINGs on idle connections only)` });
    return null;
  }
  if (timeoutMs <= 0) problems.push({ code: 'bad_value', path: `${path}.timeout`, message: 'timeout must be greater than 0' });
  const jitter = k['interval_jitter'] === undefined ? 15 : Number((k['interval_jitter'] as Obj)['value'] ?? k['interval_jitter']);
  return Object.freeze({ intervalMs, timeoutMs, intervalJitterPercent: Number.isFinite(jitter) ? Math.min(100, Math.max(0, jitter)) : 15 });
}
