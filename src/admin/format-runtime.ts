// Primary thread (pure). Envoy's /runtime: the layers of the bootstrap's layered_runtime and every key with its
// value in each layer and its final value (the last layer that sets it wins), all as strings.

export interface RuntimeView {
  layers: string[];
  entries: Record<string, { layer_values: string[]; final_value: string }>;
}

/** A static layer's Struct flattened as Envoy does: nested keys joined with '.', leaves as strings. */
export function flattenRuntimeLayer(value: unknown, prefix = '', out: Map<string, string> = new Map()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenRuntimeLayer(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (prefix !== '') {
    out.set(prefix, value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/**
 * The layers of a normalized bootstrap's layered_runtime. As Envoy: a layered_runtime without layers gets one
 * admin layer; no layered_runtime at all has no layers (and no admin layer for /runtime_modify).
 */
function runtimeLayers(bootstrap: Record<string, unknown>): Record<string, unknown>[] {
  const lr = bootstrap['layered_runtime'] as { layers?: Record<string, unknown>[] } | undefined;
  if (lr === undefined) return [];
  const layers = lr.layers ?? [];
  return layers.length === 0 ? [{ name: '', admin_layer: {} }] : layers;
}

/** Whether /runtime_modify has a layer to write to (Envoy: "No admin layer specified" otherwise). */
export function hasAdminLayer(bootstrap: Record<string, unknown>): boolean {
  return runtimeLayers(bootstrap).some((l) => l['admin_layer'] !== undefined);
}

/**
 * /runtime_modify's merge into the admin layer's values: each key set to its value, an empty value removes the
 * key (Envoy's AdminLayer::mergeValues).
 */
export function mergeAdminValues(values: Map<string, string>, changes: Iterable<[string, string]>): void {
  for (const [k, v] of changes) {
    if (v === '') values.delete(k);
    else values.set(k, v);
  }
}

/**
 * /runtime for a normalized bootstrap: every layer's values (an admin layer holds `adminValues`, what
 * /runtime_modify set), and per key its value in each layer and the final value (the last non-empty one).
 */
export function runtimeView(bootstrap: Record<string, unknown>, adminValues: ReadonlyMap<string, string> = new Map()): RuntimeView {
  const layers = runtimeLayers(bootstrap);
  const names: string[] = [];
  const values: ReadonlyMap<string, string>[] = [];
  for (const layer of layers) {
    names.push(String(layer['name'] ?? ''));
    if (layer['admin_layer'] !== undefined) values.push(adminValues);
    else values.push(layer['static_layer'] === undefined ? new Map() : flattenRuntimeLayer(layer['static_layer']));
  }
  const keys = new Set<string>();
  for (const v of values) for (const k of v.keys()) keys.add(k);
  const entries: RuntimeView['entries'] = {};
  for (const key of [...keys].sort()) {
    const layerValues = values.map((v) => v.get(key) ?? '');
    let final = '';
    for (const v of layerValues) if (v !== '') final = v;
    entries[key] = { layer_values: layerValues, final_value: final };
  }
  return { layers: names, entries };
}
