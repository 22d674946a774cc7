// Any thread (pure; config time). envoy.filters.http.ext_proc: its ExternalProcessor and the per-route
// ExtProcPerRoute, compiled to plain frozen data (it crosses to the workers as is).

import { bool, durationMs, isObj, obj, str, type Obj } from '../router/config-values.ts';
import type { HeaderList } from '../http/stream-info.ts';
import type { FilterConfigProblem, HttpFilterStats, HttpFilterType } from './http-filter-config.ts';

export const EXT_PROC_TYPE = 'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
export const EXT_PROC_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';
export const EXT_PROC_FILTER_NAME = 'envoy.filters.http.ext_proc';

/** Envoy's default message_timeout. */
const DEFAULT_MESSAGE_TIMEOUT_MS = 200;

/** ProcessingMode, as booleans: what is sent to the processor (STREAMED / BUFFERED_PARTIAL are refused at load). */
export interface ProcessingMode {
  readonly requestHeaders: boolean;
  readonly responseHeaders: boolean;
  /** BUFFERED (NONE otherwise). */
  readonly requestBodyBuffered: boolean;
  readonly responseBodyBuffered: boolean;
  /** response_trailer_mode SEND (DEFAULT is SKIP for trailers; request_trailer_mode SEND is refused at load). */
  readonly responseTrailers: boolean;
}

export interface ExtProcSettings {
  readonly cluster: string;
  readonly initialMetadata: HeaderList;
  readonly failureModeAllow: boolean;
  readonly mode: ProcessingMode;
  readonly messageTimeoutMs: number;
}

export interface ExtProcPerRoute {
  readonly disabled: boolean;
  /** overrides.processing_mode; null: the filter's. */
  readonly mode: ProcessingMode | null;
}

/** A ProcessingMode message (enums by name, as the loader gives them). */
export function compileProcessingMode(v: unknown): ProcessingMode {
  const o = obj(v);
  return Object.freeze({
    requestHeaders: str(o['request_header_mode'], 'DEFAULT') !== 'SKIP',
    responseHeaders: str(o['response_header_mode'], 'DEFAULT') !== 'SKIP',
    requestBodyBuffered: str(o['request_body_mode'], 'NONE') === 'BUFFERED',
    responseBodyBuffered: str(o['response_body_mode'], 'NONE') === 'BUFFERED',
    responseTrailers: str(o['response_trailer_mode'], 'DEFAULT') === 'SEND',
  });
}

export function compileExtProc(o: Obj, path: string, problems: FilterConfigProblem[]): ExtProcSettings {
  const grpc = obj(o['grpc_service']);
  const cluster = str(obj(grpc['envoy_grpc'])['cluster_name'], '');
  if (cluster === '') problems.push({ code: 'missing_field', path: `${path}.grpc_service.envoy_grpc.cluster_name`, message: 'ext_proc needs grpc_service.envoy_grpc.cluster_name' });
  const initialMetadata: HeaderList = [];
  const md = grpc['initial_metadata'];
  if (Array.isArray(md)) {
    for (const h of md) {
      const key = str(obj(h)['key'], '').toLowerCase();
      if (key !== '') initialMetadata.push(key, str(obj(h)['value'], ''));
    }
  }
  let messageTimeoutMs = durationMs(o, 'message_timeout', DEFAULT_MESSAGE_TIMEOUT_MS, path, problems);
  if (messageTimeoutMs <= 0) messageTimeoutMs = DEFAULT_MESSAGE_TIMEOUT_MS;
  return Object.freeze({
    cluster,
    initialMetadata: Object.freeze(initialMetadata) as HeaderList,
    failureModeAllow: bool(o['failure_mode_allow'], false),
    mode: compileProcessingMode(o['processing_mode']),
    messageTimeoutMs,
  });
}

export function compileExtProcPerRoute(o: Obj, _path: string, _problems: FilterConfigProblem[]): ExtProcPerRoute {
  const overrides = o['overrides'];
  return Object.freeze({
    disabled: bool(o['disabled'], false),
    mode: isObj(overrides) && isObj(overrides['processing_mode']) ? compileProcessingMode(overrides['processing_mode']) : null,
  });
}

/** http.<hcm stat_prefix>.ext_proc.[<stat_prefix>.]* */
export function extProcStats(typedConfig: Obj, hcmStatPrefix: string): HttpFilterStats {
  const own = str(typedConfig['stat_prefix'], '');
  return {
    prefix: `http.${hcmStatPrefix}.ext_proc.${own === '' ? '' : `${own}.`}`,
    definition: 'ext_proc',
    tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]],
  };
}

export const EXT_PROC_FILTER: HttpFilterType = {
  name: EXT_PROC_FILTER_NAME,
  compile(typedConfig, path, problems, hcmStatPrefix) {
    return { config: compileExtProc(typedConfig, path, problems), stats: extProcStats(typedConfig, hcmStatPrefix) };
  },
};
