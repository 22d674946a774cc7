// Worker thread. envoy.filters.http.basic_auth, as Envoy's: a request must carry `Authorization: Basic
// base64(user:password)` naming a user of the route's BasicAuthPerRoute, else of the filter's config, whose password
// hashes (SHA-1, base64) to that user's (compared in constant time); otherwise it is answered 401 with
// www-authenticate: Basic realm="http://<host>". An allowed request goes on, with forward_username_header set to
// the user when configured. Stats http.<stat_prefix>.basic_auth.{allowed,denied}.

import crypto from 'node:crypto';
import type { HeaderList } from '../../../src/http/stream-info.ts';
import { getHeader } from '../../../src/http/stream-info.ts';
import { setHeader } from '../../../src/http/header-list.ts';
import { BasicAuthUsers, type BasicAuthConfig } from '../../../src/filters/basic-auth-config.ts';
import { FilterHeadersStatus, PassThroughFilter, type FilterCallbacks } from './http-filter.ts';
import type { HttpFilterFactory, HttpFilterFactoryContext } from './filter-registry.ts';
import type { WorkerStatsStore } from '../../../src/stats/definitions.ts';

/** What every stream's filter shares. */
class BasicAuthShared {
  readonly users: BasicAuthUsers;
  readonly forwardUsernameHeader: string;
  readonly stats: WorkerStatsStore;
  readonly allowedSlot: number;
  readonly deniedSlot: number;
  constructor(config: BasicAuthConfig, context: HttpFilterFactoryContext) {
    this.users = new BasicAuthUsers(config.users);
    this.forwardUsernameHeader = config.forwardUsernameHeader;
    this.stats = context.stats;
    this.allowedSlot = context.slots === null ? -1 : context.slots['allowed']!;
    this.deniedSlot = context.slots === null ? -1 : context.slots['denied']!;
  }
}

/** A digest nobody's password has, compared against when the user is unknown (the same work either way). */
const NO_DIGEST = Buffer.alloc(28);

class BasicAuthFilter extends PassThroughFilter {
  private readonly cb: FilterCallbacks;
  private readonly shared: BasicAuthShared;

  constructor(cb: FilterCallbacks, shared: BasicAuthShared) {
    super();
    this.cb = cb;
    this.shared = shared;
  }

  override decodeHeaders(headers: HeaderList, _endStream: boolean): number {
    const perRoute = this.cb.mostSpecificPerFilterConfig();
    const users = perRoute instanceof BasicAuthUsers ? perRoute : this.shared.users;
    const auth = getHeader(headers, 'authorization');
    if (auth === undefined) {
      return this.deny('User authentication failed. Missing username and password.', 'no_credential_for_basic_auth');
    }
    if (!auth.startsWith('Basic ')) {
      return this.deny("User authentication failed. Expected 'Basic' authentication scheme.", 'invalid_scheme_for_basic_auth');
    }
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      return this.deny('User authentication failed. Invalid basic credential format.', 'invalid_format_for_basic_auth');
    }
    const username = decoded.slice(0, colon);
    const digest = Buffer.from(crypto.createHash('sha1').update(decoded.slice(colon + 1), 'utf8').digest('base64'), 'latin1');
    const expected = users.byName.get(username);
    const same = crypto.timingSafeEqual(digest, expected ?? NO_DIGEST);
    if (expected === undefined || !same) {
      return this.deny('User authentication failed. Invalid username/password combination.', 'invalid_credential_for_basic_auth');
    }
    const shared = this.shared;
    if (shared.forwardUsernameHeader !== '') setHeader(headers, shared.forwardUsernameHeader, username);
    if (shared.allowedSlot >= 0) shared.stats.values[shared.allowedSlot]++;
    return FilterHeadersStatus.Continue;
  }

  private deny(body: string, details: string): number {
    const shared = this.shared;
    if (shared.deniedSlot >= 0) shared.stats.values[shared.deniedSlot]++;
    this.cb.sendLocalReply(401, body, ['www-authenticate', `Basic realm="http://${this.cb.streamInfo.authority}"`], -1, details);
    return FilterHeadersStatus.StopIteration;
  }
}

export function basicAuthFilterFactory(config: unknown, context: HttpFilterFactoryContext): HttpFilterFactory {
  const shared = new BasicAuthShared(config as BasicAuthConfig, context);
  return { createFilter: (cb) => new BasicAuthFilter(cb, shared) };
}
