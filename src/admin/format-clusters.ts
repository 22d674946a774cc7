// Primary thread (pure). Envoy's /clusters: the text form (`cluster::host:port::stat::value` lines) and
// ?format=json (envoy.admin.v3.Clusters as proto3 JSON: default values omitted, uint64 as strings).

import type { CircuitBreakerThresholds, ClusterView, HostView } from './admin-context.ts';

/** `127.0.0.1:80`, `[::1]:80`. */
export function hostAddressText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function formatClustersText(clusters: readonly ClusterView[]): string {
  let out = '';
  for (const c of clusters) {
    const n = c.name;
    out += `${n}::observability_name::${c.observabilityName}\n`;
    out += thresholdsText(n, 'default', c.defaultPriority);
    out += thresholdsText(n, 'high', c.highPriority);
    out += `${n}::added_via_api::${c.addedViaApi}\n`;
    for (const h of c.hosts) out += hostText(n, h);
  }
  return out;
}

function thresholdsText(cluster: string, priority: string, t: CircuitBreakerThresholds): string {
  const p = `${cluster}::${priority}_priority::`;
  return (
    `${p}max_connections::${t.maxConnections}\n${p}max_pending_requests::${t.maxPendingRequests}\n` +
    `${p}max_requests::${t.maxRequests}\n${p}max_retries::${t.maxRetries}\n`
  );
}

function hostText(cluster: string, h: HostView): string {
  const p = `${cluster}::${hostAddressText(h.address, h.port)}::`;
  // Counters and gauges together, in name order.
  const stats = new Map<string, number>();
  for (const [k, v] of Object.entries(h.counters)) stats.set(k, v);
  for (const [k, v] of Object.entries(h.gauges)) stats.set(k, v);
  let out = '';
  for (const k of [...stats.keys()].sort()) out += `${p}${k}::${stats.get(k)}\n`;
  out += `${p}hostname::${h.hostname}\n`;
  out += `${p}health_flags::${h.healthFlags}\n`;
  out += `${p}weight::${h.weight}\n`;
  out += `${p}region::${h.region}\n`;
  out += `${p}zone::${h.zone}\n`;
  out += `${p}sub_zone::${h.subZone}\n`;
  out += `${p}canary::${h.canary}\n`;
  out += `${p}priority::${h.priority}\n`;
  out += `${p}success_rate::${h.successRate}\n`;
  out += `${p}local_origin_success_rate::${h.localOriginSuccessRate}\n`;
  return out;
}

export function clustersJson(clusters: readonly ClusterView[]): object {
  return { cluster_statuses: clusters.map(clusterJson) };
}

function clusterJson(c: ClusterView): object {
  const out: Record<string, unknown> = { name: c.name };
  if (c.addedViaApi) out['added_via_api'] = true;
  if (c.hosts.length > 0) out['host_statuses'] = c.hosts.map(hostJson);
  out['circuit_breakers'] = {
    thresholds: [thresholdsJson(null, c.defaultPriority), thresholdsJson('HIGH', c.highPriority)],
  };
  out['observability_name'] = c.observabilityName;
  return out;
}

function thresholdsJson(priority: string | null, t: CircuitBreakerThresholds): object {
  const out: Record<string, unknown> = {};
  if (priority !== null) out['priority'] = priority;
  out['max_connections'] = t.maxConnections;
  out['max_pending_requests'] = t.maxPendingRequests;
  out['max_requests'] = t.maxRequests;
  out['max_retries'] = t.maxRetries;
  return out;
}

function hostJson(h: HostView): object {
  const stats: Record<string, unknown>[] = [];
  for (const [name, value] of Object.entries(h.counters)) stats.push(metricJson(name, value, null));
  for (const [name, value] of Object.entries(h.gauges)) stats.push(metricJson(name, value, 'GAUGE'));
  const out: Record<string, unknown> = {
    address: { socket_address: { address: h.address, port_value: h.port } },
    stats,
    health_status: healthStatusJson(h.healthFlags),
  };
  if (h.successRate >= 0) out['success_rate'] = { value: h.successRate };
  out['weight'] = h.weight;
  if (h.hostname !== '') out['hostname'] = h.hostname;
  if (h.priority !== 0) out['priority'] = h.priority;
  if (h.localOriginSuccessRate >= 0) out['local_origin_success_rate'] = { value: h.localOriginSuccessRate };
  const locality: Record<string, string> = {};
  if (h.region !== '') locality['region'] = h.region;
  if (h.zone !== '') locality['zone'] = h.zone;
  if (h.subZone !== '') locality['sub_zone'] = h.subZone;
  out['locality'] = locality;
  return out;
}

function metricJson(name: string, value: number, type: string | null): Record<string, unknown> {
  // SimpleMetric: COUNTER is the enum default and 0 the value default, both omitted in proto3 JSON.
  const m: Record<string, unknown> = {};
  if (type !== null) m['type'] = type;
  if (value !== 0) m['value'] = String(value);
  m['name'] = name;
  return m;
}

function healthStatusJson(flags: string): object {
  const out: Record<string, unknown> = {};
  if (flags.includes('/failed_active_hc')) out['failed_active_health_check'] = true;
  if (flags.includes('/failed_outlier_check')) out['failed_outlier_check'] = true;
  out['eds_health_status'] = flags.includes('/failed_eds_health')
    ? 'UNHEALTHY'
    : flags.includes('/degraded_eds_health')
      ? 'DEGRADED'
      : 'HEALTHY';
  if (flags.includes('/degraded_active_hc')) out['failed_active_degraded_check'] = true;
  if (flags.includes('/pending_dynamic_removal')) out['pending_dynamic_removal'] = true;
  if (flags.includes('/pending_active_hc')) out['pending_active_hc'] = true;
  return out;
}
