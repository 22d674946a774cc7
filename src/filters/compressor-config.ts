// Any thread (pure; config time). envoy.filters.http.compressor (envoy.extensions.filters.http.compressor.v3.Compressor)
// and its per-route CompressorPerRoute, compiled to plain data. The filter compresses responses and, with
// request_direction_config, requests, with its compressor_library (src/filters/compressor-libraries.ts). Stats:
// http.<hcm stat_prefix>.compressor.<library name>.<library stat prefix>.[response.|request.]* (Envoy's: response
// stats under "response." only when response_direction_config is given).

import { bool, list, num, obj, str, type Obj } from '../router/config-values.ts';
import type { FilterConfigProblem, HttpFilterType } from './http-filter-config.ts';
import { compileCompressionLibrary, type CompressionLibrarySpec } from './compressor-libraries.ts';

export const COMPRESSOR_TYPE = 'envoy.extensions.filters.http.compressor.v3.Compressor';
export const COMPRESSOR_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.compressor.v3.CompressorPerRoute';

/**
 * The content types compressed when CommonDirectionConfig.content_type is empty: the list Envoy's compressor uses
 * (its docs name the main eight; its code also takes the legacy JavaScript/JSON/XML aliases listed here).
 */
export const DEFAULT_COMPRESSIBLE_TYPES: readonly string[] = Object.freeze([
  'text/html', 'text/plain', 'text/css', 'application/javascript', 'application/x-javascript', 'text/javascript',
  'text/x-javascript', 'text/ecmascript', 'text/js', 'text/jscript', 'text/x-js', 'application/ecmascript',
  'application/x-json', 'application/xml', 'application/json', 'image/svg+xml', 'text/xml', 'application/xhtml+xml',
]);

/** The filter's config, compiled (plain data). */
export interface CompressorConfig {
  library: CompressionLibrarySpec;
  /** response_direction_config.common_config.enabled's default_value (true when absent). */
  responseEnabled: boolean;
  /** min_content_length (30). */
  minContentLength: number;
  /** Media types (lower case, without parameters) that are compressed. */
  contentTypes: string[];
  disableOnEtag: boolean;
  removeAcceptEncoding: boolean;
  chooseFirst: boolean;
  /** Requests are compressed: request_direction_config given and enabled (Envoy's default: off). */
  requestEnabled: boolean;
  requestMinContentLength: number;
  requestContentTypes: string[];
  /**
   * The response stats are under "response." (response_direction_config given); without it they are at the root
   * of the scope, Envoy's legacy tree. Request stats are always under "request.".
   */
  directionalStats: boolean;
}
/** CompressorPerRoute, compiled: `disabled`, or an override of remove_accept_encoding_header (null: not given). */
export interface CompressorPerRoute {
  disabled: boolean;
  removeAcceptEncoding: boolean | null;
}

function enabledOf(flag: unknown): boolean {
  if (flag === undefined || flag === null) return true;
  return bool(obj(flag)['default_value'], true);
}

function contentTypesOf(v: unknown): string[] {
  const given = list(v).map((t) => str(t, '').split(';')[0]!.trim().toLowerCase()).filter((t) => t !== '');
  return given.length === 0 ? [...DEFAULT_COMPRESSIBLE_TYPES] : given;
}

/** The filter: its config compiled, and its stat scope. */
export const COMPRESSOR_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.compressor',
  compile(tc, path, problems, hcmStatPrefix) {
    const lib = compileCompressionLibrary(obj(tc['compressor_library']), `${path}.compressor_library`, false, problems);
    const rdc = tc['response_direction_config'];
    const req = tc['request_direction_config'];
    const reqCommon = req === undefined || req === null ? null : obj(obj(req)['common_config']);
    const library = lib?.spec ?? ({} as CompressionLibrarySpec);
    const directional = rdc !== undefined && rdc !== null;
    // Without response_direction_config, Envoy reads the deprecated top-level fields.
    const r = directional ? obj(rdc) : tc;
    const common = directional ? obj(r['common_config']) : null;
    const config: CompressorConfig = {
      library,
      responseEnabled: enabledOf(common === null ? tc['runtime_enabled'] : common['enabled']),
      minContentLength: num(common === null ? tc['content_length'] : common['min_content_length'], 30),
      contentTypes: contentTypesOf(common === null ? tc['content_type'] : common['content_type']),
      disableOnEtag: bool(r['disable_on_etag_header'], false),
      removeAcceptEncoding: bool(r['remove_accept_encoding_header'], false),
      chooseFirst: bool(tc['choose_first'], false),
      requestEnabled: reqCommon !== null && enabledOf(reqCommon['enabled']),
      requestMinContentLength: num(reqCommon?.['min_content_length'], 30),
      requestContentTypes: contentTypesOf(reqCommon?.['content_type']),
      directionalStats: directional,
    };
    const name = lib?.name ?? '';
    return {
      config,
      stats: lib === null ? null : {
        prefix: `http.${hcmStatPrefix}.compressor.${name}.${library.statPrefix}.`,
        definition: directional ? 'compressor_directional' : 'compressor',
        tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]],
      },
    };
  },
};

/** A CompressorPerRoute at `path`. */
export function compileCompressorPerRoute(o: Obj, _path: string, _problems: FilterConfigProblem[]): CompressorPerRoute {
  const overrides = o['overrides'] === undefined ? null : obj(obj(o['overrides'])['response_direction_config']);
  const rae = overrides === null ? undefined : overrides['remove_accept_encoding_header'];
  return Object.freeze({ disabled: bool(o['disabled'], false), removeAcceptEncoding: typeof rae === 'boolean' ? rae : null });
}
