// Any thread (pure). Envoy lets an extension be named without typed_config when its config message may be empty:
// it then uses that extension's default config. These are the names real configs rely on, with their message.

const BY_NAME: Readonly<Record<string, string>> = Object.freeze({
  'envoy.filters.http.router': 'envoy.extensions.filters.http.router.v3.Router',
  'envoy.filters.network.http_connection_manager':
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.filters.network.tcp_proxy': 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.filters.listener.tls_inspector': 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.filters.listener.http_inspector': 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.filters.listener.original_dst': 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.filters.listener.proxy_protocol': 'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol',
  'envoy.filters.http.grpc_web': 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
  'envoy.filters.http.cors': 'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.filters.http.grpc_http1_bridge': 'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config',
  'envoy.access_loggers.stdout': 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.access_loggers.stderr': 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  'envoy.transport_sockets.raw_buffer': 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  // envoy.transport_sockets.tls is deliberately absent: an empty TLS context is never what the user meant.
});

/** The config message full name Envoy uses for extension `name` given without typed_config, if any. */
export function defaultTypedConfigFor(name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(BY_NAME, name) ? BY_NAME[name] : undefined;
}

const NAMES: readonly string[] = Object.freeze(Object.keys(BY_NAME));

/** Every extension name defaultTypedConfigFor knows, for "did you mean". */
export function wellKnownExtensionNames(): readonly string[] {
  return NAMES;
}

export const TYPE_URL_PREFIX = 'type.googleapis.com/';
