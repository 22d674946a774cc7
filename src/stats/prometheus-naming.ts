// Any thread (pure). Envoy's Prometheus naming: `envoy_` + the tag-extracted name with every character outside
// [a-zA-Z0-9_] replaced by '_'; labels `name="value"` with '\', newline and '"' escaped.

import type { StatTag } from './tag-extractor.ts';

const NOT_PROMETHEUS = /[^a-zA-Z0-9_]/g;

export function sanitizePrometheusName(name: string): string {
  return name.replace(NOT_PROMETHEUS, '_');
}

export function prometheusMetricName(tagExtractedName: string): string {
  return `envoy_${sanitizePrometheusName(tagExtractedName)}`;
}

export function escapePrometheusLabelValue(value: string): string {
  return value.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}

/** `a="1",b="2"` (no braces), in tag order; empty for no tags. */
export function prometheusLabels(tags: readonly StatTag[]): string {
  let out = '';
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i]!;
    if (i > 0) out += ',';
    out += `${sanitizePrometheusName(t.name)}="${escapePrometheusLabelValue(t.value)}"`;
  }
  return out;
}
