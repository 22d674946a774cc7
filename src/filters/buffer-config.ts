// Any thread (pure; config time). envoy.filters.http.buffer: Buffer (the filter's config: max_request_bytes) and
// BufferPerRoute (typed_per_filter_config: `disabled`, or a `buffer` of the route's own), compiled to plain, frozen
// data. Small enough to cross to the workers as it is.

import { num, obj, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';

export const BUFFER_TYPE = 'envoy.extensions.filters.http.buffer.v3.Buffer';
export const BUFFER_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.buffer.v3.BufferPerRoute';

/** What the filter does for one request: buffer up to maxRequestBytes, or (disabled) nothing. */
export interface BufferSettings {
  readonly disabled: boolean;
  /** The request's buffer limit (Envoy's setDecoderBufferLimit): past it the request is a 413. */
  readonly maxRequestBytes: number;
}

/** BufferPerRoute, compiled (what typed_per_filter_config gives the filter). */
export class BufferPerRouteSettings implements BufferSettings {
  readonly disabled: boolean;
  readonly maxRequestBytes: number;

  constructor(disabled: boolean, maxRequestBytes: number) {
    this.disabled = disabled;
    this.maxRequestBytes = maxRequestBytes;
    Object.freeze(this);
  }
}

/** Buffer at `path`: max_request_bytes is required and above 0 (Envoy's validation). */
export function compileBuffer(o: Obj, path: string, problems: FilterConfigProblem[]): BufferSettings {
  const max = num(o['max_request_bytes'], 0);
  if (o['max_request_bytes'] === undefined) problems.push({ code: 'missing_field', path: `${path}.max_request_bytes`, message: 'max_request_bytes is required' });
  else if (!Number.isInteger(max) || max <= 0) problems.push({ path: `${path}.max_request_bytes`, message: 'max_request_bytes must be greater than 0' });
  return Object.freeze({ disabled: false, maxRequestBytes: max > 0 ? max : 0 });
}

/** BufferPerRoute at `path`: exactly one of disabled (true) and buffer. */
export function compileBufferPerRoute(o: Obj, path: string, problems: FilterConfigProblem[]): BufferPerRouteSettings {
  const hasDisabled = o['disabled'] !== undefined;
  const hasBuffer = o['buffer'] !== undefined;
  if (hasDisabled === hasBuffer) {
    problems.push({ code: 'missing_field', path, message: 'exactly one of disabled, buffer is required' });
    return new BufferPerRouteSettings(false, 0);
  }
  if (hasDisabled) {
    if (o['disabled'] !== true) problems.push({ path: `${path}.disabled`, message: 'disabled must be true' });
    return new BufferPerRouteSettings(true, 0);
  }
  return new BufferPerRouteSettings(false, compileBuffer(obj(o['buffer']), `${path}.buffer`, problems).maxRequestBytes);
}

/** The filter: its settings are plain data (they cross to the workers as they are). No stats (as Envoy's). */
export const BUFFER_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.buffer',
  compile(typedConfig, path, problems) {
    return { config: compileBuffer(typedConfig, path, problems), stats: null };
  },
};
