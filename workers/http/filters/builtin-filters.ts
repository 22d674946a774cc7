// Worker thread. Registers the HTTP filters Legate ships (each by its Envoy name) with the filter registry; imported
// once by the chain, so a filter's module loads with the first connection manager. The router is not among them:
// it ends every chain (workers/router/router-filter.ts). Their configs compile in src/filters/http-filter-config.ts.

import { registerHttpFilter } from './filter-registry.ts';
import { compressorFilterFactory } from './compressor-filter.ts';
import { decompressorFilterFactory } from './decompressor-filter.ts';
import { grpcWebFilterFactory } from './grpc-web-filter.ts';
import { grpcHttp1BridgeFilterFactory } from './grpc-http1-bridge-filter.ts';
import { rbacFilterFactory } from './rbac-filter.ts';
import { csrfFilterFactory } from './csrf-filter.ts';
import { corsFilterFactory } from './cors-filter.ts';
import { extAuthzFilterFactory } from './ext-authz-filter.ts';
import { extProcFilterFactory } from './ext-proc-filter.ts';
import { faultFilterFactory } from './fault-filter.ts';
import { bufferFilterFactory } from './buffer-filter.ts';
import { healthCheckFilterFactory } from './health-check-filter.ts';
import { headerMutationFilterFactory } from './header-mutation-filter.ts';
import { luaFilterFactory } from './lua-filter.ts';
import { localRateLimitFilterFactory } from './local-ratelimit-filter.ts';
import { basicAuthFilterFactory } from './basic-auth-filter.ts';
import { dynamicForwardProxyFilterFactory } from './dynamic-forward-proxy-filter.ts';
import { jwtAuthnFilterFactory } from './jwt-authn/jwt-authn-filter.ts';
import { typeScriptFilterFactory } from './typescript-filter.ts';

registerHttpFilter('envoy.filters.http.cors', corsFilterFactory);
registerHttpFilter('envoy.filters.http.ext_authz', extAuthzFilterFactory);
registerHttpFilter('envoy.filters.http.ext_proc', extProcFilterFactory);
registerHttpFilter('envoy.filters.http.fault', faultFilterFactory);
registerHttpFilter('envoy.filters.http.buffer', bufferFilterFactory);
registerHttpFilter('envoy.filters.http.health_check', healthCheckFilterFactory);
registerHttpFilter('envoy.filters.http.header_mutation', headerMutationFilterFactory);
registerHttpFilter('envoy.filters.http.lua', luaFilterFactory);
registerHttpFilter('envoy.filters.http.local_ratelimit', localRateLimitFilterFactory);
registerHttpFilter('envoy.filters.http.basic_auth', basicAuthFilterFactory);
registerHttpFilter('envoy.filters.http.dynamic_forward_proxy', dynamicForwardProxyFilterFactory);
registerHttpFilter('envoy.filters.http.jwt_authn', jwtAuthnFilterFactory);
// Legate's own: a user's filter module (src/filters/typescript-filter-config.ts, docs/FILTERS.md).
registerHttpFilter('legate.filters.http.typescript', typeScriptFilterFactory);
registerHttpFilter('envoy.filters.http.rbac', rbacFilterFactory);
registerHttpFilter('envoy.filters.http.csrf', csrfFilterFactory);
registerHttpFilter('envoy.filters.http.compressor', compressorFilterFactory);
registerHttpFilter('envoy.filters.http.decompressor', decompressorFilterFactory);
registerHttpFilter('envoy.filters.http.grpc_web', grpcWebFilterFactory);
registerHttpFilter('envoy.filters.http.grpc_http1_bridge', grpcHttp1BridgeFilterFactory);
