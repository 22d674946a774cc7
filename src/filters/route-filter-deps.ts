// Any thread (pure; config time). What the route compiler (src/router) is given to compile the HTTP filters'
// per-route config, so src/router itself never imports src/filters: the connection manager's runtime and the
// snapshot compiler hand it in.

import { compilePerFilterConfigs } from './http-filter-config.ts';
import { compileLegacyCorsPolicy } from './cors-config.ts';
import type { RouteCompileDeps } from '../router/route-config-compiler.ts';

export const ROUTE_FILTER_DEPS: Readonly<Omit<RouteCompileDeps, 'compileHeaderValue'>> = Object.freeze({
  compilePerFilterConfigs,
  compileLegacyCorsPolicy,
});
