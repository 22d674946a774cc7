// Any thread (buildRouteTable runs at config time, on each worker for its connection managers; the table's
// route() runs per request). Envoy's RouteConfiguration as a compiled, frozen route table.

import { compileRouteConfig, type RouteCompileDeps } from './route-config-compiler.ts';
import type { RouteConfigProblem } from './config-values.ts';
import type { RouteTable } from './route-types.ts';

export { RouteKind } from './route-types.ts';
export type { Route, RouteTable } from './route-types.ts';
export type { RouteCompileDeps } from './route-config-compiler.ts';
export type { RouteConfigProblem } from './config-values.ts';

/** A route config that does not compile; checkRouteConfig reports the same problems before it gets this far. */
export class RouteConfigError extends Error {
  readonly code = 'bad_route_config';
  readonly problems: readonly RouteConfigProblem[];

  constructor(problems: RouteConfigProblem[]) {
    super(`invalid route configuration: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'RouteConfigError';
    this.problems = Object.freeze(problems);
  }
}

/**
 * Compiles a normalized envoy.config.route.v3.RouteConfiguration. `deps.compileHeaderValue` is called once per
 * header value containing '%'. Throws RouteConfigError when the config has problems (checkRouteConfig finds
 * them at load time with the same code, so a config that passed it only fails here if a body file vanished).
 */
export function buildRouteTable(config: Record<string, unknown>, deps: RouteCompileDeps): RouteTable {
  const problems: RouteConfigProblem[] = [];
  const table = compileRouteConfig(config, 'route_config', deps, problems);
  if (problems.length > 0) throw new RouteConfigError(problems);
  return table;
}
