// Any thread (pure but for reading direct_response body files; config time, on the primary or a reload thread).
// The route config problems the schema cannot see, found by the same compiler buildRouteTable uses.

import { compileHeaderValueFormat } from '../access-log/formatter.ts';
import { compileRouteConfig, type RouteCompileDeps } from './route-config-compiler.ts';
import type { RouteConfigProblem } from './config-values.ts';

/**
 * Problems in normalized RouteConfiguration `rc` found at field path `path` (e.g. "...route_config"); problem
 * paths look like `${path}.virtual_hosts[0].routes[2].match.safe_regex.regex`. Empty when it compiles.
 */
export function checkRouteConfig(
  rc: Record<string, unknown>, path: string, filterDeps: Omit<RouteCompileDeps, 'compileHeaderValue'> = {},
): { path: string; message: string }[] {
  const problems: RouteConfigProblem[] = [];
  compileRouteConfig(rc, path, { compileHeaderValue: compileHeaderValueFormat, ...filterDeps }, problems);
  return problems;
}
