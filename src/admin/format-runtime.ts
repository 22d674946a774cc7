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

/** /runtime for a normalized bootstrap (no layered_runtime: no layers). Admin layers are empty (no /runtime_modify). */
export function runtimeView(bootstrap: Record<string, unknown>): RuntimeView {
  const lr = bootstrap['layered_runtime'] as { layers?: Record<string, unknown>[] } | undefined;
  const layers = lr?.layers ?? [];
  const names: string[] = [];
  const values: Map<string, string>[] = [];
  for (const layer of layers) {
    names.push(String(layer['name'] ?? ''));
    values.push(layer['static_layer'] === undefined ? new Map() : flattenRuntimeLayer(layer['static_layer']));
  }
  const keys = new Set<string>();
  for (const v of values) for (const k of v.keys()) keys.add(k);
  const entries: RuntimeView['entries'] = {};
  for (const key of [...keys].sort()) {
    const layerValues = values.map((v) => v.get(key) ?? '');
    let final = '';
    for (const v of values) if (v.has(key)) final = v.get(key)!;
    entries[key] = { layer_values: layerValues, final_value: final };
  }
  return { layers: names, entries };
}
