// Any thread (pure; config time). envoy.filters.http.grpc_web (envoy.extensions.filters.http.grpc_web.v3.GrpcWeb):
// the message has no settings, so the filter compiles to nothing; it writes no stats of its own.

import type { HttpFilterType } from './http-filter-config.ts';

export const GRPC_WEB_TYPE = 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb';

export const GRPC_WEB_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.grpc_web',
  compile() {
    return { config: null, stats: null };
  },
};
