// Helpers shared by the route table tests: build a table from virtual hosts, and request inputs.

import { buildRouteTable, type Route, type RouteTable } from '../../src/router/route-table.ts';
import { compileHeaderValueFormat } from '../../src/access-log/formatter.ts';
import { StreamInfo, type HeaderList } from '../../src/http/stream-info.ts';

export type Obj = Record<string, unknown>;

export const DEPS = { compileHeaderValue: compileHeaderValueFormat };

/** A RouteConfiguration of `virtualHosts`, plus any top-level fields in `extra`. */
export function tableOf(virtualHosts: Obj[], extra: Obj = {}): RouteTable {
  return buildRouteTable({ name: 'test', virtual_hosts: virtualHosts, ...extra }, DEPS);
}

/** One catch-all virtual host with `routes`. */
export function routesTable(routes: Obj[], extra: Obj = {}): RouteTable {
  return tableOf([{ name: 'vh', domains: ['*'], routes }], extra);
}

/** A cluster route named after its cluster, for telling matches apart. */
export function to(cluster: string, match: Obj, action: Obj = {}): Obj {
  return { name: cluster, match, route: { cluster, ...action } };
}

/** Headers as the connection manager hands them over (x-forwarded-proto always set). */
export function requestHeaders(...pairs: string[]): HeaderList {
  return ['host', 'example.com', 'x-forwarded-proto', 'http', ...pairs];
}

export function clusterOf(r: Route | null): string | null {
  return r === null ? null : r.clusterName;
}

export function infoFor(headers: HeaderList, path = '/'): StreamInfo {
  const info = new StreamInfo();
  info.requestHeaders = headers;
  info.path = path;
  info.authority = 'example.com';
  info.method = 'GET';
  info.protocol = 'HTTP/1.1';
  info.downstreamRemoteAddress = '203.0.113.7:51324';
  info.requestId = 'req-1';
  return info;
}
