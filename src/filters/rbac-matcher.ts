// Any thread (pure; compiled at config time, evaluated on the worker). The RBAC filters' `matcher` / `shadow_matcher`:
// Envoy's unified matcher API (xds.type.matcher.v3.Matcher) with envoy.config.rbac.v3.Action as its actions. The
// subset Legate runs: a matcher_list whose predicates are single predicates (an input and a StringMatcher) combined
// with and_matcher / or_matcher / not_matcher, each with an action, and on_no_match's action. The first matcher that
// matches decides; with none, on_no_match does, and without it the request is denied (Envoy's). matcher_tree, nested
// matchers, keep_matching, custom matches and inputs other than below are refused as not supported yet.

import { compileStringMatcher } from '../router/string-matcher.ts';
import { list, obj, str, type Obj } from '../router/config-values.ts';
import { RbacAction, type RbacDecider, type RbacInput } from './rbac-policy.ts';
import type { FilterConfigProblem } from './http-filter-config.ts';

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const ACTION_TYPE = 'envoy.config.rbac.v3.Action';

/** A matcher input: the value it reads, or undefined when the request or connection has none (no match then). */
type Input = (input: RbacInput) => string | undefined;
type Predicate = (input: RbacInput) => boolean;

function joinedHeader(headers: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) value = value === undefined ? headers[i + 1]! : `${value},${headers[i + 1]!}`;
  }
  return value;
}

function orUndefined(s: string): string | undefined {
  return s === '' ? undefined : s;
}

/** The inputs Legate has, by config message; `http`: the HTTP filter (request headers are there). */
function compileInput(tec: Obj, path: string, problems: FilterConfigProblem[], http: boolean): Input | null {
  const tc = obj(tec['typed_config']);
  const url = str(tc['@type'], '');
  const type = url.startsWith(TYPE_URL_PREFIX) ? url.slice(TYPE_URL_PREFIX.length) : url.slice(url.lastIndexOf('/') + 1);
  switch (type) {
    case 'envoy.type.matcher.v3.HttpRequestHeaderMatchInput': {
      if (!http) break;
      const name = str(tc['header_name'], '').toLowerCase();
      if (name === '') {
        problems.push({ code: 'missing_field', path: `${path}.typed_config.header_name`, message: 'header_name is required' });
        return null;
      }
      return (input) => (input.headers === null ? undefined : joinedHeader(input.headers, name));
    }
    case 'envoy.extensions.matching.common_inputs.network.v3.DestinationIPInput':
      return (input) => orUndefined(input.localIp);
    case 'envoy.extensions.matching.common_inputs.network.v3.DestinationPortInput':
      return (input) => (input.localPort === 0 ? undefined : String(input.localPort));
    // The source address as the filter knows it: through x-forwarded-for for HTTP (as Envoy's remote address).
    case 'envoy.extensions.matching.common_inputs.network.v3.SourceIPInput':
      return (input) => orUndefined(input.remoteIpText());
    case 'envoy.extensions.matching.common_inputs.network.v3.DirectSourceIPInput':
      return (input) => orUndefined(input.directRemoteIp);
    case 'envoy.extensions.matching.common_inputs.network.v3.ServerNameInput':
      return (input) => orUndefined(input.serverName);
    case 'envoy.extensions.matching.common_inputs.ssl.v3.UriSanInput':
      return (input) => (input.peer === null || input.peer.uriSans.length === 0 ? undefined : input.peer.uriSans.join(','));
    case 'envoy.extensions.matching.common_inputs.ssl.v3.DnsSanInput':
      return (input) => (input.peer === null || input.peer.dnsSans.length === 0 ? undefined : input.peer.dnsSans.join(','));
    case 'envoy.extensions.matching.common_inputs.ssl.v3.SubjectInput':
      return (input) => (input.peer === null ? undefined : orUndefined(input.peer.subject));
    default:
      break;
  }
  problems.push({ code: 'not_supported', path: `${path}.typed_config`, message: `not supported yet: matcher input ${type === '' ? '(no @type)' : type}${http ? '' : ' in the network RBAC filter'}` });
  return null;
}

const NEVER: Predicate = () => false;

function compilePredicate(p: Obj, path: string, problems: FilterConfigProblem[], http: boolean): Predicate {
  if (p['single_predicate'] !== undefined) {
    const sp = obj(p['single_predicate']);
    const spp = `${path}.single_predicate`;
    const input = compileInput(obj(sp['input']), `${spp}.input`, problems, http);
    if (sp['custom_match'] !== undefined) {
      problems.push({ code: 'not_supported', path: `${spp}.custom_match`, message: `not supported yet: ${spp}.custom_match` });
      return NEVER;
    }
    if (sp['value_match'] === undefined) {
      problems.push({ code: 'missing_field', path: `${spp}.value_match`, message: 'a single predicate needs value_match' });
      return NEVER;
    }
    const m = compileStringMatcher(obj(sp['value_match']), `${spp}.value_match`, problems);
    if (input === null || m === null) return NEVER;
    return (rin) => {
      const v = input(rin);
      return v !== undefined && m.match(v);
    };
  }
  if (p['not_matcher'] !== undefined) {
    const inner = compilePredicate(obj(p['not_matcher']), `${path}.not_matcher`, problems, http);
    return (rin) => !inner(rin);
  }
  for (const kind of ['and_matcher', 'or_matcher'] as const) {
    if (p[kind] === undefined) continue;
    const parts = list(obj(p[kind])['predicate']).map((x, i) => compilePredicate(obj(x), `${path}.${kind}.predicate[${i}]`, problems, http));
    if (parts.length < 2) problems.push({ path: `${path}.${kind}.predicate`, message: 'a predicate list needs at least two predicates' });
    if (kind === 'and_matcher') {
      return (rin) => {
        for (let i = 0; i < parts.length; i++) if (!parts[i]!(rin)) return false;
        return true;
      };
    }
    return (rin) => {
      for (let i = 0; i < parts.length; i++) if (parts[i]!(rin)) return true;
      return false;
    };
  }
  problems.push({ code: 'missing_field', path, message: 'a predicate needs single_predicate, or_matcher, and_matcher or not_matcher' });
  return NEVER;
}

interface CompiledAction {
  name: string;
  action: number;
}

function compileOnMatch(om: Obj, path: string, problems: FilterConfigProblem[]): CompiledAction | null {
  if (om['matcher'] !== undefined) {
    problems.push({ code: 'not_supported', path: `${path}.matcher`, message: `not supported yet: ${path}.matcher (nested matchers)` });
    return null;
  }
  if (om['keep_matching'] === true) {
    problems.push({ code: 'not_supported', path: `${path}.keep_matching`, message: `not supported yet: ${path}.keep_matching` });
    return null;
  }
  const tc = obj(obj(om['action'])['typed_config']);
  const url = str(tc['@type'], '');
  if (!url.endsWith(`/${ACTION_TYPE}`) && url !== ACTION_TYPE) {
    problems.push({ code: 'not_supported', path: `${path}.action.typed_config`, message: `not supported yet: RBAC matcher action ${url === '' ? '(no @type)' : url} (only ${ACTION_TYPE})` });
    return null;
  }
  const a = tc['action'] ?? 'ALLOW';
  const action = a === 'DENY' || a === 1 ? RbacAction.DENY : a === 'LOG' || a === 2 ? RbacAction.LOG : RbacAction.ALLOW;
  return { name: str(tc['name'], ''), action };
}

/** A compiled RBAC matcher. */
class RbacMatcherEngine implements RbacDecider {
  private readonly predicates: readonly Predicate[];
  private readonly actions: readonly CompiledAction[];
  private readonly onNoMatch: CompiledAction | null;
  matchedPolicy: string;
  readonly logs = false;

  constructor(predicates: readonly Predicate[], actions: readonly CompiledAction[], onNoMatch: CompiledAction | null) {
    this.predicates = predicates;
    this.actions = actions;
    this.onNoMatch = onNoMatch;
    this.matchedPolicy = '';
  }

  evaluate(input: RbacInput): boolean {
    let decided: CompiledAction | null = this.onNoMatch;
    const predicates = this.predicates;
    for (let i = 0; i < predicates.length; i++) {
      if (predicates[i]!(input)) {
        decided = this.actions[i]!;
        break;
      }
    }
    if (decided === null) {
      this.matchedPolicy = '';
      return false;
    }
    this.matchedPolicy = decided.name;
    return decided.action !== RbacAction.DENY;
  }
}

/** A Matcher at `path` for the HTTP (`http`) or network RBAC filter; null with problems when it cannot run. */
export function compileRbacMatcher(m: Obj, path: string, problems: FilterConfigProblem[], http: boolean): RbacDecider | null {
  const before = problems.length;
  if (m['matcher_tree'] !== undefined) {
    problems.push({ code: 'not_supported', path: `${path}.matcher_tree`, message: `not supported yet: ${path}.matcher_tree` });
    return null;
  }
  const predicates: Predicate[] = [];
  const actions: CompiledAction[] = [];
  list(obj(m['matcher_list'])['matchers']).forEach((fm, i) => {
    const fp = `${path}.matcher_list.matchers[${i}]`;
    predicates.push(compilePredicate(obj(obj(fm)['predicate']), `${fp}.predicate`, problems, http));
    actions.push(compileOnMatch(obj(obj(fm)['on_match']), `${fp}.on_match`, problems) ?? { name: '', action: RbacAction.DENY });
  });
  const onNoMatch = m['on_no_match'] === undefined ? null : compileOnMatch(obj(m['on_no_match']), `${path}.on_no_match`, problems);
  if (problems.length > before) return null;
  return new RbacMatcherEngine(Object.freeze(predicates), Object.freeze(actions), onNoMatch);
}
