// Example TypeScript filter (docs/FILTERS.md): lets a request through only with `authorization: Bearer <token>` for
// one of the configured tokens, else answers 401 itself. A route can turn the check off or require other tokens
// with its typed_per_filter_config (TypeScriptFilterPerRoute: { required: false } or { tokens: [...] }).
// Counts allowed/denied in http.<stat_prefix>.typescript_filter.<name>.{allowed,denied}.

import {
  defineFilter, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks,
} from '../../src/filter-api/index.ts';

interface AuthConfig {
  tokens?: string[];
  /** The header a valid request gets with the token's index, for the upstream. */
  identity_header?: string;
}

interface AuthPerRoute {
  required?: boolean;
  tokens?: string[];
}

export default defineFilter<AuthConfig>({
  stats: { counters: ['allowed', 'denied'] },
  create(config, context) {
    // Once per config version and worker: everything per request is a Set lookup.
    const tokens = new Set(config.tokens ?? []);
    const identityHeader = config.identity_header ?? 'x-auth-identity';
    const allowed = context.counter('allowed');
    const denied = context.counter('denied');

    class AuthHeaderFilter extends PassThroughFilter {
      private readonly cb: UserFilterCallbacks;
      constructor(cb: UserFilterCallbacks) {
        super();
        this.cb = cb;
      }

      override decodeHeaders(headers: HeaderList): number {
        const route = this.cb.perRouteConfig<AuthPerRoute>();
        if (route?.required === false) return FilterHeadersStatus.Continue;
        const valid = route?.tokens !== undefined ? new Set(route.tokens) : tokens;
        const h = this.cb.headers(headers);
        const auth = h.get('authorization') ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        if (token === '' || !valid.has(token)) {
          denied.inc();
          this.cb.respond(401, 'missing or unknown bearer token', { 'www-authenticate': 'Bearer' }, 'auth_header_denied');
          return FilterHeadersStatus.StopIteration;
        }
        allowed.inc();
        h.remove('authorization');
        h.set(identityHeader, `token-${[...valid].indexOf(token)}`);
        return FilterHeadersStatus.Continue;
      }
    }
    return { createFilter: (cb) => new AuthHeaderFilter(cb) };
  },
});
