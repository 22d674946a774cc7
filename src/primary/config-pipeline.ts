// Any thread (pure; the primary runs it inline at start and on a piscina thread for reloads).
// The one path every config takes: load + validate (file:line:col errors) -> compile -> Snapshot.

import { loadConfig } from '../config-loader/load-config.ts';
import type { ConfigProblem, LoadedConfig } from '../config-loader/types.ts';
import { formatConfigProblem, sortProblems } from '../config-loader/config-error.ts';
import { compileSnapshot } from '../snapshot/compile-snapshot.ts';
import { flattenRuntimeLayer } from '../admin/format-runtime.ts';
import { TRACING_RUNTIME_KEYS } from '../tracing/tracing-config.ts';
import type { Snapshot } from '../snapshot/snapshot-types.ts';
import type { DynamicResourceSet } from '../xds/resource-types.ts';
import { EMPTY_DYNAMIC_SET, mergeDynamicResources } from '../xds/merge-resources.ts';
import { adsSettingsOf, type AdsSettings, type FileXdsSettings } from '../xds/ads-settings.ts';

/** What to load, and the command line's say over it (plain data: it crosses to the compile thread). */
export interface ConfigSources {
  configPath: string | undefined;
  configYaml: string | undefined;
  /** --allow-unknown-static-fields: unknown fields are warnings, not errors. */
  allowUnknownStaticFields?: boolean;
  /** --service-node / --service-cluster / --service-zone: override node.id, node.cluster, node.locality.zone. */
  serviceNode?: string | undefined;
  serviceCluster?: string | undefined;
  serviceZone?: string | undefined;
}

export type PipelineResult =
  | {
      ok: true;
      snapshot: Snapshot;
      warnings: string[];
      /** The normalized bootstrap, for /config_dump and the admin address. */
      bootstrap: Record<string, unknown>;
      /** Unknown fields let through by --allow-unknown-static-fields (server.static_unknown_fields). */
      staticUnknownFields: number;
      /** dynamic_resources' ADS stream or xDS files (src/xds), null without dynamic_resources. */
      ads: AdsSettings | FileXdsSettings | null;
    }
  | { ok: false; message: string; problemCount: number };

/** The sources the command line names. */
export function sourcesOf(o: {
  configPath: string | undefined;
  configYaml: string | undefined;
  allowUnknownStaticFields: boolean;
  serviceNode: string | undefined;
  serviceCluster: string | undefined;
  serviceZone: string | undefined;
}): ConfigSources {
  return {
    configPath: o.configPath,
    configYaml: o.configYaml,
    allowUnknownStaticFields: o.allowUnknownStaticFields,
    serviceNode: o.serviceNode,
    serviceCluster: o.serviceCluster,
    serviceZone: o.serviceZone,
  };
}

/** `dynamic`: what an xDS control plane sent, merged with static_resources before compiling (src/xds). */
export function runConfigPipeline(sources: ConfigSources, version: number, dynamic?: DynamicResourceSet): PipelineResult {
  let loaded;
  try {
    loaded = loadConfig({ configPath: sources.configPath, configYaml: sources.configYaml, allowUnknownFields: sources.allowUnknownStaticFields === true });
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems;
    if (Array.isArray(problems)) return { ok: false, message: problems.map(formatConfigProblem).join('\n'), problemCount: problems.length };
    return { ok: false, message: (err as Error).message, problemCount: 1 };
  }
  overrideNode(loaded.bootstrap, sources);
  const ads = adsSettingsOf(loaded);
  if (ads.problems.length > 0) {
    const sorted = sortProblems(ads.problems, fileOrder(loaded.files));
    return { ok: false, message: sorted.map(formatConfigProblem).join('\n'), problemCount: sorted.length };
  }
  // With an ADS stream, static resources may use rds / EDS too: merged with what arrived (nothing yet at first).
  const merged = dynamic === undefined && ads.settings === null ? null : mergeDynamicResources(loaded, dynamic ?? EMPTY_DYNAMIC_SET);
  const compiled = compileSnapshot(merged === null ? loaded : merged.loaded, version);
  if (compiled.problems.length > 0) {
    const problems = merged === null ? compiled.problems : compiled.problems.map((p) => merged.renameProblem(p));
    const sorted = sortProblems(problems, fileOrder(loaded.files));
    return { ok: false, message: sorted.map(formatConfigProblem).join('\n'), problemCount: sorted.length };
  }
  const warnings = loaded.ignoredUnknownFields.map((p) => `${formatConfigProblem(p)} (ignored: --allow-unknown-static-fields)`);
  for (const w of compiled.warnings) warnings.push(w);
  runtimeWarnings(loaded, warnings);
  return { ok: true, snapshot: compiled.snapshot, warnings, bootstrap: loaded.bootstrap, staticUnknownFields: loaded.ignoredUnknownFields.length, ads: ads.settings };
}

/** Envoy: --service-node/--service-cluster/--service-zone win over the bootstrap's node. */
function overrideNode(bootstrap: Record<string, unknown>, s: ConfigSources): void {
  if (s.serviceNode === undefined && s.serviceCluster === undefined && s.serviceZone === undefined) return;
  const node = { ...((bootstrap['node'] as Record<string, unknown> | undefined) ?? {}) };
  if (s.serviceNode !== undefined) node['id'] = s.serviceNode;
  if (s.serviceCluster !== undefined) node['cluster'] = s.serviceCluster;
  if (s.serviceZone !== undefined) node['locality'] = { ...((node['locality'] as Record<string, unknown> | undefined) ?? {}), zone: s.serviceZone };
  bootstrap['node'] = node;
}

/** Static runtime layers are shown by /runtime, but no key changes what Legate does: say so, key by key. */
function runtimeWarnings(loaded: LoadedConfig, warnings: string[]): void {
  const layers = ((loaded.bootstrap['layered_runtime'] as { layers?: Record<string, unknown>[] } | undefined)?.layers) ?? [];
  layers.forEach((layer, i) => {
    if (layer['static_layer'] === undefined) return;
    // The tracers' flush keys are read (src/tracing/tracing-config.ts); every other key changes nothing yet.
    const keys = [...flattenRuntimeLayer(layer['static_layer']).keys()].filter((k) => !TRACING_RUNTIME_KEYS.includes(k));
    if (keys.length === 0) return;
    const path = `layered_runtime.layers[${i}].static_layer`;
    warnings.push(formatConfigProblem({
      code: 'not_supported', path, position: loaded.positions.at(path), suggestion: undefined,
      message: `Legate reads no runtime key yet: shown by /runtime, without effect: ${keys.join(', ')}`,
    }));
  });
}

/** The order problems are reported in: the config file(s), then the command-line overlay. */
function fileOrder(files: readonly string[]): string[] {
  return [...files, '--config-yaml'];
}
