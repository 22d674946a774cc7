// Worker thread. Envoy's local replies: the bodies and details it sends when it answers a request itself.

import { ResponseFlag } from '../../src/http/response-flags.ts';
import { GrpcStatus } from '../../src/http/grpc.ts';

export interface LocalReplySpec {
  readonly status: number;
  readonly body: string;
  readonly flag: number;
  /** Envoy's %RESPONSE_CODE_DETAILS% value. */
  readonly details: string;
  /** The grpc-status a gRPC client gets; -1 = derived from the HTTP status (Envoy's httpToGrpcStatus). */
  readonly grpcStatus: number;
}

const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

function spec(status: number, body: string, flag: number, details: string, grpcStatus = -1): LocalReplySpec {
  return Object.freeze({ status, body, flag, details, grpcStatus });
}

export const LocalReply = Object.freeze({
  noRoute: spec(404, '', ResponseFlag.NoRouteFound, 'route_not_found'),
  noCluster: spec(503, '', ResponseFlag.NoClusterFound, 'cluster_not_found'),
  noHealthyUpstream: spec(503, 'no healthy upstream', ResponseFlag.NoHealthyUpstream, 'no_healthy_upstream'),
  connectFailure: spec(503, RESET_PREFIX + 'connection failure', ResponseFlag.UpstreamConnectionFailure,
    'upstream_reset_before_response_started{connection_failure}'),
  connectTimeout: spec(503, RESET_PREFIX + 'connection timeout', ResponseFlag.UpstreamConnectionFailure,
    'upstream_reset_before_response_started{connection_timeout}'),
  overflow: spec(503, RESET_PREFIX + 'overflow', ResponseFlag.UpstreamOverflow,
    'upstream_reset_before_response_started{overflow}'),
  upstreamTermination: spec(503, RESET_PREFIX + 'connection termination', ResponseFlag.UpstreamConnectionTermination,
    'upstream_reset_before_response_started{connection_termination}'),
  upstreamProtocolError: spec(502, RESET_PREFIX + 'protocol error', ResponseFlag.UpstreamProtocolError,
    'upstream_reset_before_response_started{protocol_error}'),
  // To a gRPC client a route timeout is UNAVAILABLE (504 through gRPC's HTTP mapping), as Envoy sends it; the
  // gRPC deadline itself (grpc-timeout, max_stream_duration) is DEADLINE_EXCEEDED below.
  upstreamTimeout: spec(504, 'upstream request timeout', ResponseFlag.UpstreamRequestTimeout, 'upstream_response_timeout'),
  upstreamReset: spec(503, RESET_PREFIX + 'remote reset', ResponseFlag.UpstreamRemoteReset,
    'upstream_reset_before_response_started{remote_reset}'),
  upstreamRefused: spec(503, RESET_PREFIX + 'remote refused stream reset', ResponseFlag.UpstreamRemoteReset,
    'upstream_reset_before_response_started{remote_refused_stream_reset}'),
  // RouteAction.max_stream_duration (and grpc-timeout): 408 while the request is still arriving, else 504.
  maxDurationReached: spec(504, 'downstream duration timeout', ResponseFlag.DurationTimeout, 'max_duration_timeout', GrpcStatus.DEADLINE_EXCEEDED),
  maxDurationReachedBeforeRequestEnd: spec(408, 'downstream duration timeout', ResponseFlag.DurationTimeout, 'max_duration_timeout', GrpcStatus.DEADLINE_EXCEEDED),
  requestTimeout: spec(408, 'request timeout', 0, 'request_overall_timeout'),
  requestHeadersTimeout: spec(408, 'request headers timeout', 0, 'request_header_timeout'),
  streamIdleTimeout: spec(408, 'stream timeout', ResponseFlag.StreamIdleTimeout, 'stream_idle_timeout'),
  // path_with_escaped_slashes_action REJECT_REQUEST (and UNESCAPE_AND_REDIRECT to a gRPC client, which cannot
  // follow a redirect).
  escapedSlashesRejected: spec(400, 'Bad Request', ResponseFlag.DownstreamProtocolError, 'path_normalization_failed', GrpcStatus.INTERNAL),
  underscoreInHeaderName: spec(400, 'Bad Request', ResponseFlag.DownstreamProtocolError, 'unexpected_underscore'),
  missingHost: spec(400, 'Bad Request', ResponseFlag.DownstreamProtocolError, 'missing_host_header'),
  // Host / :authority / an absolute-form authority that is not uri-host [":" port] (Envoy's codecs' detail).
  invalidHost: spec(400, 'Bad Request', ResponseFlag.DownstreamProtocolError, 'http.invalid_authority'),
  http10NotAccepted: spec(426, 'Upgrade Required', ResponseFlag.DownstreamProtocolError, 'low_version'),
  upgradeNotAllowed: spec(403, 'Upgrade Required', 0, 'upgrade_failed'),
  // envoy.overload_actions.stop_accepting_requests.
  overloaded: spec(503, 'envoy overloaded', ResponseFlag.OverloadManager, 'overload'),
  // An HTTP filter buffered more than the connection's buffer limit (Envoy's requestDataTooLarge/responseDataTooLarge).
  requestPayloadTooLarge: spec(413, 'Payload Too Large', 0, 'request_payload_too_large'),
  responsePayloadTooLarge: spec(500, 'Internal Server Error', 0, 'response_payload_too_large'),
});
