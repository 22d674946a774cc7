// Any thread (pure; config time; HeaderMutationList.apply runs on the request path). envoy.filters.http.header_mutation:
// HeaderMutation (the filter's config) and HeaderMutationPerRoute (typed_per_filter_config), compiled. Each
// envoy.config.common.mutation_rules.v3.HeaderMutation (one `remove` or one `append` HeaderValueOption) becomes one
// HeaderMutationLevel of the route compiler (src/router/header-mutations.ts), so append_action, keep_empty_value and
// %COMMAND% values mean what they mean on a route; the list applies them in config order, as Envoy's HeaderMutations.
// The filter-level config crosses to the workers as the loader's plain data and is compiled there again (a
// compiled list holds formatters, so it never crosses threads).

import { compileHeaderValueFormat } from '../access-log/formatter.ts';
import { compileMutationLevel, type HeaderMutationLevel } from '../router/header-mutations.ts';
import { bool, list, obj, type Obj } from '../router/config-values.ts';
import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';

export const HEADER_MUTATION_TYPE = 'envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';
export const HEADER_MUTATION_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute';

/** One direction's mutations, applied in order. */
export class HeaderMutationList {
  readonly steps: readonly HeaderMutationLevel[];

  constructor(steps: HeaderMutationLevel[]) {
    this.steps = Object.freeze(steps);
    Object.freeze(this);
  }

  apply(headers: HeaderList, info: StreamInfo): void {
    const steps = this.steps;
    for (let i = 0; i < steps.length; i++) steps[i]!.apply(headers, info);
  }
}

/** Mutations: request and response lists; null where a list is empty (nothing to do that way). */
export class HeaderMutations {
  readonly request: HeaderMutationList | null;
  readonly response: HeaderMutationList | null;

  constructor(request: HeaderMutationList | null, response: HeaderMutationList | null) {
    this.request = request;
    this.response = response;
    Object.freeze(this);
  }
}

/** The filter's config, compiled: its mutations and the order per-route mutations run in. */
export class HeaderMutationConfig {
  readonly mutations: HeaderMutations;
  /** most_specific_header_mutations_wins: per-route mutations run least specific first (the route's last). */
  readonly mostSpecificWins: boolean;

  constructor(mutations: HeaderMutations, mostSpecificWins: boolean) {
    this.mutations = mutations;
    this.mostSpecificWins = mostSpecificWins;
    Object.freeze(this);
  }
}

/** A HeaderMutationPerRoute, compiled (what typed_per_filter_config gives the filter). */
export class HeaderMutationPerRoute {
  readonly mutations: HeaderMutations;

  constructor(mutations: HeaderMutations) {
    this.mutations = mutations;
    Object.freeze(this);
  }
}

function compileList(entries: unknown, path: string, problems: FilterConfigProblem[]): HeaderMutationList | null {
  const steps: HeaderMutationLevel[] = [];
  list(entries).forEach((raw, i) => {
    const m = obj(raw);
    const p = `${path}[${i}]`;
    const hasRemove = m['remove'] !== undefined;
    const hasAppend = m['append'] !== undefined;
    if (hasRemove === hasAppend) {
      // The schema's oneof check says so too; kept so a hand-made config cannot slip through.
      problems.push({ code: 'missing_field', path: p, message: 'exactly one of remove, append is required' });
      return;
    }
    // One remove or one append, as a one-entry level; its problems' paths lose the level's list index.
    const found: FilterConfigProblem[] = [];
    const level = hasRemove
      ? compileMutationLevel(undefined, [m['remove']], '', `${p}.remove`, compileHeaderValueFormat, found)
      : compileMutationLevel([m['append']], undefined, `${p}.append`, '', compileHeaderValueFormat, found);
    for (const f of found) problems.push({ ...f, path: f.path.replace(`${p}.remove[0]`, `${p}.remove`).replace(`${p}.append[0]`, `${p}.append`) });
    if (level !== null) steps.push(level);
  });
  return steps.length === 0 ? null : new HeaderMutationList(steps);
}

/** A Mutations message at `path` (absent: nothing to do). */
export function compileMutations(o: Obj, path: string, problems: FilterConfigProblem[]): HeaderMutations {
  return new HeaderMutations(
    compileList(o['request_mutations'], `${path}.request_mutations`, problems),
    compileList(o['response_mutations'], `${path}.response_mutations`, problems),
  );
}

export function compileHeaderMutation(o: Obj, path: string, problems: FilterConfigProblem[]): HeaderMutationConfig {
  return new HeaderMutationConfig(compileMutations(obj(o['mutations']), `${path}.mutations`, problems), bool(o['most_specific_header_mutations_wins'], false));
}

/** As a route's or virtual host's typed_per_filter_config. */
export function compileHeaderMutationPerRoute(o: Obj, path: string, problems: FilterConfigProblem[]): HeaderMutationPerRoute {
  return new HeaderMutationPerRoute(compileMutations(obj(o['mutations']), `${path}.mutations`, problems));
}

/** The filter: checked here and sent as given (plain data); the worker compiles it again. No stats (as Envoy's). */
export const HEADER_MUTATION_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.header_mutation',
  compile(typedConfig, path, problems) {
    compileHeaderMutation(typedConfig, path, problems);
    return { config: typedConfig, stats: null };
  },
};
