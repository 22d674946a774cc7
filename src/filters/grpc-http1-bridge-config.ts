// Any thread (pure; config time). envoy.filters.http.grpc_http1_bridge (envoy.extensions.filters.http.
// grpc_http1_bridge.v3.Config): lets an HTTP/1.1 client, which cannot read trailers, call a gRPC upstream. Its two
// settings (upgrade_protobuf_to_grpc, ignore_query_parameters) are not supported yet (the loader refuses them), so
// the filter compiles to nothing; it writes no stats of its own.

import type { HttpFilterType } from './http-filter-config.ts';

export const GRPC_HTTP1_BRIDGE_TYPE = 'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config';

export const GRPC_HTTP1_BRIDGE_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.grpc_http1_bridge',
  compile() {
    return { config: null, stats: null };
  },
};
