// Any thread (pure). Envoy's AccessLogFilter (envoy.config.accesslog.v3): which requests a rule applies to, by
// response code, request header, response flags, and any nesting of those with and/or. Validated on the primary into
// plain data (compileAccessLogFilter: it crosses to the workers in the snapshot), built into an evaluator where it
// runs (new AccessLogFilter; the header matcher holds a compiled regex, so it never crosses threads). Used by
// AccessLog.filter (src/access-log/sink.ts) and local_reply_config's mappers.

import type { HeaderList, StreamInfo } from '../http/stream-info.ts';
import { RESPONSE_FLAG_SHORT_NAMES } from '../http/response-flags.ts';
import { compileHeaderMatcher, type HeaderMatcher } from '../router/request-matchers.ts';
import { isObj, list, num, obj, str, type Obj } from '../router/config-values.ts';

const KIND_STATUS_CODE = 0;
const KIND_HEADER = 1;
const KIND_RESPONSE_FLAGS = 2;
const KIND_AND = 3;
const KIND_OR = 4;
/** not_health_check_filter: passes unless the health_check filter took the request for a health check. */
const KIND_NOT_HEALTH_CHECK = 5;
/** duration_filter: %DURATION% (so far, for a local reply) compared with the value in ms. */
const KIND_DURATION = 6;

const OP_EQ = 0;
const OP_GE = 1;
const OP_LE = 2;

/** One AccessLogFilter as plain data (every field set for every kind). */
export interface AccessLogFilterData {
  kind: number;
  /** status_code_filter: OP_*, and the value compared with. */
  op: number;
  value: number;
  /** header_filter: the HeaderMatcher message (normalized config), compiled where it runs. */
  header: Obj | null;
  /** response_flag_filter: bits of ResponseFlag; 0 = any flag. */
  flags: number;
  /** and_filter / or_filter. */
  filters: AccessLogFilterData[];
}

export interface AccessLogFilterProblem {
  path: string;
  message: string;
  code?: 'bad_value' | 'missing_field' | 'not_supported';
}

const SUPPORTED = ['status_code_filter', 'duration_filter', 'header_filter', 'response_flag_filter', 'and_filter', 'or_filter', 'not_health_check_filter'];
const KNOWN_UNSUPPORTED = ['traceable_filter', 'runtime_filter', 'grpc_status_filter', 'extension_filter', 'metadata_filter', 'log_type_filter'];

function data(kind: number): AccessLogFilterData {
  return { kind, op: OP_EQ, value: 0, header: null, flags: 0, filters: [] };
}

/** An AccessLogFilter message at `path`; null (with problems) when it cannot be used. */
export function compileAccessLogFilter(f: Obj, path: string, problems: AccessLogFilterProblem[]): AccessLogFilterData | null {
  const set = Object.keys(f).filter((k) => f[k] !== undefined);
  const unsupported = set.find((k) => KNOWN_UNSUPPORTED.includes(k));
  if (unsupported !== undefined) {
    problems.push({ code: 'not_supported', path: `${path}.${unsupported}`, message: `not supported yet: ${path}.${unsupported}` });
    return null;
  }
  const which = set.filter((k) => SUPPORTED.includes(k));
  if (which.length !== 1) {
    problems.push({ code: which.length === 0 ? 'missing_field' : 'bad_value', path, message: `an access log filter needs exactly one of ${SUPPORTED.join(', ')}` });
    return null;
  }
  const kind = which[0]!;
  const p = `${path}.${kind}`;
  const v = obj(f[kind]);
  switch (kind) {
    case 'status_code_filter':
    case 'duration_filter': {
      const comparison = obj(v['comparison']);
      if (!isObj(v['comparison'])) {
        problems.push({ code: 'missing_field', path: `${p}.comparison`, message: 'comparison is required' });
        return null;
      }
      const opName = str(comparison['op'], 'EQ');
      const op = opName === 'EQ' ? OP_EQ : opName === 'GE' ? OP_GE : opName === 'LE' ? OP_LE : -1;
      if (op < 0) {
        problems.push({ path: `${p}.comparison.op`, message: `unknown comparison op ${opName} (EQ, GE or LE)` });
        return null;
      }
      const rv = comparison['value'];
      if (!isObj(rv)) {
        problems.push({ code: 'missing_field', path: `${p}.comparison.value`, message: 'value is required' });
        return null;
      }
      // RuntimeUInt32: Legate reads no runtime key yet, so default_value is what applies (as in Envoy without one).
      const d = data(kind === 'status_code_filter' ? KIND_STATUS_CODE : KIND_DURATION);
      d.op = op;
      d.value = num(rv['default_value'], 0);
      return d;
    }
    case 'header_filter': {
      if (!isObj(v['header'])) {
        problems.push({ code: 'missing_field', path: `${p}.header`, message: 'header is required' });
        return null;
      }
      const before = problems.length;
      compileHeaderMatcher(obj(v['header']), `${p}.header`, problems);
      if (problems.length > before) return null;
      const d = data(KIND_HEADER);
      d.header = obj(v['header']);
      return d;
    }
    case 'response_flag_filter': {
      const d = data(KIND_RESPONSE_FLAGS);
      let ok = true;
      list(v['flags']).forEach((name, i) => {
        const bit = RESPONSE_FLAG_SHORT_NAMES.indexOf(str(name, ''));
        if (bit < 0) {
          problems.push({ path: `${p}.flags[${i}]`, message: `unknown response flag '${String(name)}' (one of ${RESPONSE_FLAG_SHORT_NAMES.join(', ')})` });
          ok = false;
          return;
        }
        d.flags |= 1 << bit;
      });
      return ok ? d : null;
    }
    case 'and_filter':
    case 'or_filter': {
      const d = data(kind === 'and_filter' ? KIND_AND : KIND_OR);
      const items = list(v['filters']);
      if (items.length < 2) {
        problems.push({ path: `${p}.filters`, message: 'needs at least 2 filters' });
        return null;
      }
      for (let i = 0; i < items.length; i++) {
        const c = compileAccessLogFilter(obj(items[i]), `${p}.filters[${i}]`, problems);
        if (c === null) return null;
        d.filters.push(c);
      }
      return d;
    }
    default:
      return data(KIND_NOT_HEALTH_CHECK);
  }
}

/** A built filter: evaluate() runs where the rule applies (a worker, when a local reply is made). */
export class AccessLogFilter {
  private readonly kind: number;
  private readonly op: number;
  private readonly value: number;
  private readonly header: HeaderMatcher | null;
  private readonly flags: number;
  private readonly filters: readonly AccessLogFilter[];

  constructor(d: AccessLogFilterData) {
    this.kind = d.kind;
    this.op = d.op;
    this.value = d.value;
    this.header = d.header === null ? null : compileHeaderMatcher(d.header, '', []);
    this.flags = d.flags;
    this.filters = Object.freeze(d.filters.map((c) => new AccessLogFilter(c)));
  }

  /** Whether the request (its StreamInfo, and its request headers) passes. */
  evaluate(info: StreamInfo, requestHeaders: HeaderList | null): boolean {
    switch (this.kind) {
      case KIND_STATUS_CODE:
        return this.compare(info.responseCode);
      case KIND_DURATION: {
        const end = info.lastDownstreamTxMonoMs >= 0 ? info.lastDownstreamTxMonoMs : performance.now();
        return this.compare(Math.floor(end - info.startMonoMs));
      }
      case KIND_HEADER:
        return this.header !== null && this.header.matches(requestHeaders ?? NO_HEADERS, info.authority, info.method, info.path);
      case KIND_RESPONSE_FLAGS:
        return this.flags === 0 ? info.responseFlags !== 0 : (info.responseFlags & this.flags) !== 0;
      case KIND_AND:
        for (let i = 0; i < this.filters.length; i++) if (!this.filters[i]!.evaluate(info, requestHeaders)) return false;
        return true;
      case KIND_OR:
        for (let i = 0; i < this.filters.length; i++) if (this.filters[i]!.evaluate(info, requestHeaders)) return true;
        return false;
      case KIND_NOT_HEALTH_CHECK:
        return !info.healthCheck;
      default:
        return true;
    }
  }

  private compare(v: number): boolean {
    return this.op === OP_EQ ? v === this.value : this.op === OP_GE ? v >= this.value : v <= this.value;
  }
}

const NO_HEADERS: HeaderList = [];
