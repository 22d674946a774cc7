// Piscina worker (a thread of the primary's pool). Runs the config pipeline off the primary's event loop so a
// large config never stalls the admin server or stats; returns plain data.

import { runConfigPipeline, type ConfigSources, type PipelineResult } from './config-pipeline.ts';
import type { DynamicResourceSet } from '../xds/resource-types.ts';

export default function compileTask(task: { sources: ConfigSources; version: number; dynamic?: DynamicResourceSet }): PipelineResult {
  return runConfigPipeline(task.sources, task.version, task.dynamic);
}
