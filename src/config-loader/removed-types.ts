// Any thread (pure). Envoy's v2 API (envoy.api.v2.*, envoy.config.*.v2*) was removed in Envoy 1.18; configs
// still name its types. Recognize them and name the v3 replacement, which kept the message name in a new package.

/** Rewrites of a v2 package prefix to its v3 home; `$1`.. are the captured parts. First match wins. */
const PACKAGE_RULES: readonly (readonly [RegExp, string])[] = [
  [/^envoy\.api\.v2\.(Cluster|ClusterLoadAssignment|Listener|RouteConfiguration|ScopedRouteConfiguration)$/, ''],
  [/^envoy\.api\.v2\.auth\.(\w+)$/, 'envoy.extensions.transport_sockets.tls.v3.$1'],
  [/^envoy\.api\.v2\.(core|route|listener|cluster|endpoint)\.(\w+)$/, 'envoy.config.$1.v3.$2'],
  [/^envoy\.api\.v2\.(Discovery\w+|DeltaDiscovery\w+|Resource)$/, 'envoy.service.discovery.v3.$1'],
  [/^envoy\.config\.filter\.(network|http|listener|udp)\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$/, 'envoy.extensions.filters.$1.$2.v3.$3'],
  [/^envoy\.config\.filter\.accesslog\.v2\.(\w+)$/, 'envoy.config.accesslog.v3.$1'],
  [/^envoy\.config\.accesslog\.v2\.FileAccessLog$/, 'envoy.extensions.access_loggers.file.v3.FileAccessLog'],
  [/^envoy\.config\.accesslog\.v2\.(\w+)$/, 'envoy.extensions.access_loggers.grpc.v3.$1'],
  [/^envoy\.config\.transport_socket\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$/, 'envoy.extensions.transport_sockets.$1.v3.$2'],
  [/^envoy\.config\.cluster\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$/, 'envoy.extensions.clusters.$1.v3.$2'],
  [/^envoy\.config\.(\w+)\.v2(?:alpha\d*|beta\d*)?\.(\w+)$/, 'envoy.config.$1.v3.$2'],
  [/^envoy\.type\.matcher\.(\w+)$/, 'envoy.type.matcher.v3.$1'],
  [/^envoy\.type\.([A-Z]\w*)$/, 'envoy.type.v3.$1'],
];

const TOP_LEVEL_V3: Record<string, string> = {
  Cluster: 'envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  Listener: 'envoy.config.listener.v3.Listener',
  RouteConfiguration: 'envoy.config.route.v3.RouteConfiguration',
  ScopedRouteConfiguration: 'envoy.config.route.v3.ScopedRouteConfiguration',
};

/** Whether `fullName` is from Envoy's removed v2 API. */
export function isRemovedV2Type(fullName: string): boolean {
  return /^envoy\.api\.v2(\.|$)/.test(fullName) || /^envoy\..*\.v2(alpha\d*|beta\d*)?\.\w+$/.test(fullName) ||
    /^envoy\.type\.(matcher\.)?[A-Z]\w*$/.test(fullName);
}

/**
 * The v3 message that replaced v2 type `fullName`, if `exists` confirms it, else undefined. Only call for names
 * isRemovedV2Type accepts.
 */
export function v3Replacement(fullName: string, exists: (name: string) => boolean): string | undefined {
  for (let i = 0; i < PACKAGE_RULES.length; i++) {
    const [pattern, target] = PACKAGE_RULES[i]!;
    const m = pattern.exec(fullName);
    if (m === null) continue;
    const candidate = target === '' ? TOP_LEVEL_V3[m[1]!]! : fullName.replace(pattern, target);
    return exists(candidate) ? candidate : undefined;
  }
  return undefined;
}
