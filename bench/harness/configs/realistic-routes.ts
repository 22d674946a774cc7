// Any thread (pure). The "realistic" profile shared by every proxy's generated config, so nginx, HAProxy and
// Legate do the same work: ~50 routes (the benchmark request matches the last one, the worst case for a linear
// route table), x-request-id generation, x-forwarded-for, request/response header rewrites, optional access log.

/**
 * minimal: one route, the router alone; realistic: the routes, ids and rewrites below; realistic-log: the same plus
 * an access log; realistic-filters (Legate only): realistic plus ten built-in HTTP filters that do not act on the
 * benchmark's requests (configs/ten-filters.ts), compared with nginx's realistic config.
 */
export type Profile = 'minimal' | 'realistic' | 'realistic-log' | 'realistic-filters';
export const PROFILES: readonly Profile[] = ['minimal', 'realistic', 'realistic-log', 'realistic-filters'];

export interface BenchRoute {
  readonly kind: 'prefix' | 'path' | 'regex' | 'prefix-header';
  /** Prefix, exact path, or a regex anchored at both ends. */
  readonly value: string;
  readonly header: { readonly name: string; readonly value: string } | undefined;
}

function build(): readonly BenchRoute[] {
  const routes: BenchRoute[] = [];
  for (let i = 0; i < 30; i++) routes.push({ kind: 'prefix', value: `/api/v1/service-${i}/`, header: undefined });
  for (let i = 0; i < 8; i++) routes.push({ kind: 'path', value: `/status/check-${i}`, header: undefined });
  for (let i = 0; i < 6; i++) routes.push({ kind: 'regex', value: `^/users/[0-9]+/orders-${i}$`, header: undefined });
  for (let i = 0; i < 5; i++) {
    routes.push({ kind: 'prefix-header', value: '/tenant/', header: { name: 'x-tenant', value: `tenant-${i}` } });
  }
  return Object.freeze(routes);
}

/** The 49 routes tried before the catch-all `/` (which is route 50 and carries the benchmark's traffic). */
export const REALISTIC_ROUTES: readonly BenchRoute[] = build();

/** Header rewrites every proxy performs in the realistic profiles. */
export const REWRITES = Object.freeze({
  requestSet: { name: 'x-bench-profile', value: 'realistic' },
  requestRemove: 'x-debug',
  responseSet: 'x-served-by',
  responseRemove: 'x-internal-debug',
});

export function isRealistic(profile: Profile): boolean {
  return profile !== 'minimal';
}

export function logsAccess(profile: Profile): boolean {
  return profile === 'realistic-log';
}

/** The ten-filter chain (Legate's bootstrap only; the other proxies do the realistic profile's work). */
export function hasTenFilters(profile: Profile): boolean {
  return profile === 'realistic-filters';
}
