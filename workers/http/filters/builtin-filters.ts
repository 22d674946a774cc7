// Worker thread. Registers the HTTP filters Legate ships (each by its Envoy name) with the filter registry; imported
// once by the chain, so a filter's module loads with the first connection manager. The router is not among them:
// it ends every chain (workers/router/router-filter.ts). Their configs compile in src/filters/http-filter-config.ts.

import { registerHttpFilter } from './filter-registry.ts';
import { corsFilterFactory } from './cors-filter.ts';
import { localRateLimitFilterFactory } from './local-ratelimit-filter.ts';

registerHttpFilter('envoy.filters.http.cors', corsFilterFactory);
registerHttpFilter('envoy.filters.http.local_ratelimit', localRateLimitFilterFactory);
