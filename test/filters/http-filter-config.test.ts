// http_filters and typed_per_filter_config through the config pipeline (load, validate, compile): the router last
// and never disabled, is_optional filters Legate does not run skipped with a warning (an error without it),
// FilterConfig's disabled/is_optional, and the compiled route's per-filter configs (the route's entry wins).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runConfigPipeline } from '../../src/primary/config-pipeline.ts';
import { buildRouteTable } from '../../src/router/route-table.ts';
import { compileHeaderValueFormat } from '../../src/access-log/formatter.ts';
import { ROUTE_FILTER_DEPS } from '../../src/filters/route-filter-deps.ts';

// A filter Legate does not run (kill_request).
const UNRUN = `          - name: envoy.filters.http.kill_request
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.kill_request.v3.KillRequest }
`;
const ROUTER = `          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;

function config(httpFilters: string, vhostExtra = '', routeExtra = ''): string {
  return `static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: t
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
${vhostExtra}              routes:
              - match: { prefix: "/a" }
                direct_response: { status: 200 }
${routeExtra}              - match: { prefix: "/" }
                direct_response: { status: 204 }
          http_filters:
${httpFilters}`;
}

function run(yaml: string): ReturnType<typeof runConfigPipeline> {
  return runConfigPipeline({ configPath: undefined, configYaml: yaml }, 1);
}

function hcmOf(r: ReturnType<typeof runConfigPipeline>): { httpFilters: unknown[]; routeConfig: Record<string, unknown> } {
  assert.ok(r.ok, r.ok ? '' : r.message);
  const f = r.snapshot.listeners[0]!.filterChains[0]!.filter;
  assert.equal(f.kind, 'http_connection_manager');
  return (f as { hcm: { httpFilters: unknown[]; routeConfig: Record<string, unknown> } }).hcm;
}

describe('http_filters and typed_per_filter_config', () => {
  it('the router alone compiles to an empty chain (the connection manager calls it directly)', () => {
    assert.deepEqual(hcmOf(run(config(ROUTER))).httpFilters, []);
  });

  it('a filter Legate does not run is "not supported yet"; with is_optional it is skipped and a warning says so', () => {
    const refused = run(config(`${UNRUN}${ROUTER}`));
    assert.ok(!refused.ok);
    assert.match(refused.message, /http_filters\[0\]\.typed_config: not supported yet: http filter envoy\.extensions\.filters\.http\.kill_request\.v3\.KillRequest/);

    const skipped = run(config(`${UNRUN}            is_optional: true
          - name: acme.custom
            is_optional: true
            typed_config: { "@type": type.googleapis.com/acme.filters.Custom }
${ROUTER}`));
    assert.deepEqual(hcmOf(skipped).httpFilters, []);
    assert.ok(skipped.ok);
    assert.equal(skipped.warnings.filter((w) => /optional http filter .* is skipped: Legate does not run it/.test(w)).length, 2, skipped.warnings.join('\n'));
    // Without is_optional the unknown @type is an error.
    const unknown = run(config(`          - name: acme.custom
            typed_config: { "@type": type.googleapis.com/acme.filters.Custom }
${ROUTER}`));
    assert.ok(!unknown.ok);
    assert.match(unknown.message, /unknown @type acme\.filters\.Custom/);
  });

  it('the router must be last and cannot be disabled', () => {
    const notLast = run(config(`${ROUTER}${UNRUN}            is_optional: true\n`));
    assert.ok(!notLast.ok);
    assert.match(notLast.message, /envoy\.filters\.http\.router must be the last http filter/);
    const disabled = run(config(ROUTER.replace('typed_config:', 'disabled: true\n            typed_config:')));
    assert.ok(!disabled.ok);
    assert.match(disabled.message, /http_filters\[0\]\.disabled: the router, the last filter, cannot be disabled/);
  });

  it('typed_per_filter_config: FilterConfig compiles per route (the route over its virtual host); is_optional skips what Legate cannot run', () => {
    const filterConfig = (extra: string): string => `{ "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig${extra} }`;
    const r = run(config(ROUTER,
      `              typed_per_filter_config:\n                f_one: ${filterConfig(', disabled: true')}\n                f_two: ${filterConfig('')}\n`,
      `                typed_per_filter_config:\n                  f_one: ${filterConfig('')}\n                  f_opt: ${filterConfig(', is_optional: true, config: { "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute }')}\n`));
    const table = buildRouteTable(hcmOf(r).routeConfig, { compileHeaderValue: compileHeaderValueFormat, ...ROUTE_FILTER_DEPS });
    const a = table.route('x', 'GET', '/a', [])!;
    assert.deepEqual(a.perFilterConfigs, {
      f_one: { disabled: false, config: null, allConfigs: [] },
      f_two: { disabled: false, config: null, allConfigs: [] },
    });
    const other = table.route('x', 'GET', '/b', [])!;
    assert.deepEqual(other.perFilterConfigs, { f_one: { disabled: true, config: null, allConfigs: [] }, f_two: { disabled: false, config: null, allConfigs: [] } });

    const refused = run(config(ROUTER, '', `                typed_per_filter_config:\n                  f_opt: ${filterConfig(', config: { "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute }')}\n`));
    assert.ok(!refused.ok);
    assert.match(refused.message, /typed_per_filter_config\["f_opt"\]\.config: not supported yet: per-route filter config envoy\.extensions\.filters\.http\.ratelimit\.v3\.RateLimitPerRoute/);
  });
});
