// Any thread (pure; config time). envoy.filters.http.decompressor (envoy.extensions.filters.http.decompressor.v3.
// Decompressor), compiled to plain data: its decompressor_library (src/filters/compressor-libraries.ts) and, for each
// direction, whether it is enabled (RuntimeFeatureFlag default_value: no runtime) and whether cache-control
// no-transform is ignored; advertise_accept_encoding for the request. Stats: http.<hcm stat_prefix>.decompressor.
// <library name>.<library stat prefix>.{request,response}.* and .decompressor_library.* (Envoy's).

import { bool, obj, str } from '../router/config-values.ts';
import type { HttpFilterType } from './http-filter-config.ts';
import { compileCompressionLibrary, type CompressionLibrarySpec } from './compressor-libraries.ts';

export const DECOMPRESSOR_TYPE = 'envoy.extensions.filters.http.decompressor.v3.Decompressor';

export interface DecompressorConfig {
  library: CompressionLibrarySpec;
  requestEnabled: boolean;
  requestIgnoreNoTransform: boolean;
  /** Append the library's encoding to the request's Accept-Encoding (when responses are decompressed). */
  advertiseAcceptEncoding: boolean;
  responseEnabled: boolean;
  responseIgnoreNoTransform: boolean;
}

function enabledOf(common: Record<string, unknown>): boolean {
  const flag = common['enabled'];
  if (flag === undefined || flag === null) return true;
  return bool(obj(flag)['default_value'], true);
}

export const DECOMPRESSOR_FILTER: HttpFilterType = {
  name: 'envoy.filters.http.decompressor',
  compile(tc, path, problems, hcmStatPrefix) {
    const lib = compileCompressionLibrary(obj(tc['decompressor_library']), `${path}.decompressor_library`, true, problems);
    const req = obj(tc['request_direction_config']);
    const reqCommon = obj(req['common_config']);
    const res = obj(tc['response_direction_config']);
    const resCommon = obj(res['common_config']);
    const library = lib?.spec ?? ({} as CompressionLibrarySpec);
    const config: DecompressorConfig = {
      library,
      requestEnabled: enabledOf(reqCommon),
      requestIgnoreNoTransform: bool(reqCommon['ignore_no_transform_header'], false),
      advertiseAcceptEncoding: bool(req['advertise_accept_encoding'], true),
      responseEnabled: enabledOf(resCommon),
      responseIgnoreNoTransform: bool(resCommon['ignore_no_transform_header'], false),
    };
    const name = str(lib?.name, '');
    return {
      config,
      stats: lib === null ? null : {
        prefix: `http.${hcmStatPrefix}.decompressor.${name}.${library.statPrefix}.`,
        definition: `decompressor_${library.kind}`,
        tags: [['envoy_http_conn_manager_prefix', hcmStatPrefix]],
      },
    };
  },
};
