// Any thread (pure but for reading the config file; the primary runs it at start, a piscina thread on reload).
// The configuration loader: the -c file and the --config-yaml overlay -> one normalized, validated Envoy v3
// Bootstrap (see types.ts for the normalized form), or a ConfigErrorList with every problem found.
//
//   read -> parse (yaml-source) -> merge the overlay (overlay-merge) -> check against Envoy's schema and
//   normalize (schema-walk) -> problems sorted by file, line, column.

import fs from 'node:fs';
import { ConfigErrorList, makeProblem, sortProblems } from './config-error.ts';
import { mergeOverlay } from './overlay-merge.ts';
import { protoSchema } from './proto-schema.ts';
import { walkDocument } from './schema-walk.ts';
import type { SourceNode } from './source-node.ts';
import type { ConfigProblem, LoadedConfig } from './types.ts';
import { parseYamlSource } from './yaml-source.ts';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
/** The file name positions in the command-line overlay carry. */
export const CONFIG_YAML_FILE = '--config-yaml';

export interface ConfigInputs {
  /** The -c / --config-path file (YAML or JSON). */
  configPath: string | undefined;
  /** The --config-yaml text, merged over the file as Envoy does. Empty means not given. */
  configYaml: string | undefined;
  /** Envoy's --allow-unknown-static-fields: unknown fields are skipped and listed, not problems. */
  allowUnknownFields?: boolean;
}

/** Loads and validates the bootstrap. Throws ConfigErrorList (every problem, sorted) when it is not valid. */
export function loadConfig(inputs: ConfigInputs): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const files: string[] = [];
  const fileOrder: string[] = [];
  let base: SourceNode | undefined;
  let overlay: SourceNode | undefined;

  const configPath = inputs.configPath === '' ? undefined : inputs.configPath;
  const configYaml = inputs.configYaml === undefined || inputs.configYaml.trim() === '' ? undefined : inputs.configYaml;
  if (configPath === undefined && configYaml === undefined) {
    throw new ConfigErrorList([makeProblem('missing_field', '', undefined,
      'no configuration given: name a bootstrap file with -c <path> (YAML or JSON), or give it inline with --config-yaml')]);
  }

  if (configPath !== undefined) {
    fileOrder.push(configPath);
    let text: string | undefined;
    try {
      text = fs.readFileSync(configPath, 'utf8');
      files.push(configPath);
    } catch (err) {
      problems.push(makeProblem('io', '', undefined, `cannot read config file ${configPath}: ${(err as Error).message}`));
    }
    if (text !== undefined) {
      const parsed = parseYamlSource(text, configPath);
      for (let i = 0; i < parsed.problems.length; i++) problems.push(parsed.problems[i]!);
      if (parsed.problems.length === 0) {
        if (parsed.root === undefined || isNull(parsed.root)) {
          problems.push(makeProblem('syntax', '', { file: configPath, line: 1, column: 1 },
            'the config file is empty: it needs a bootstrap (e.g. static_resources with listeners and clusters)'));
        } else {
          base = parsed.root;
        }
      }
    }
  }
  if (configYaml !== undefined) {
    fileOrder.push(CONFIG_YAML_FILE);
    const parsed = parseYamlSource(configYaml, CONFIG_YAML_FILE);
    for (let i = 0; i < parsed.problems.length; i++) problems.push(parsed.problems[i]!);
    // An overlay holding only comments (or null) adds nothing, as in Envoy.
    if (parsed.root !== undefined && !isNull(parsed.root)) overlay = parsed.root;
  }
  if (problems.length === 0 && base === undefined && overlay === undefined) {
    problems.push(makeProblem('syntax', '', { file: CONFIG_YAML_FILE, line: 1, column: 1 },
      '--config-yaml holds no YAML document, and no config file was given'));
  }
  if (problems.length > 0) throw new ConfigErrorList(sortProblems(problems, fileOrder));

  const schema = protoSchema();
  const bootstrapType = schema.lookupMessage(BOOTSTRAP_TYPE);
  if (bootstrapType === undefined) throw new Error(`${BOOTSTRAP_TYPE} is missing from the bundled Envoy protos`);
  let root: SourceNode;
  if (base !== undefined && overlay !== undefined) {
    // Both must be objects to merge; when one is not, check each alone so each gets its own wrong_type.
    if (base.kind === 'map' && overlay.kind === 'map') root = mergeOverlay(base, overlay, bootstrapType, schema);
    else {
      const a = walkDocument(base, bootstrapType, schema, { checkSupport: true });
      const b = walkDocument(overlay, bootstrapType, schema, { checkSupport: true });
      throw new ConfigErrorList(sortProblems(a.problems.concat(b.problems), fileOrder));
    }
  } else {
    root = (base ?? overlay)!;
  }

  const walked = walkDocument(root, bootstrapType, schema, { checkSupport: true, allowUnknownFields: inputs.allowUnknownFields === true });
  if (walked.problems.length > 0) throw new ConfigErrorList(sortProblems(walked.problems, fileOrder));
  return { bootstrap: walked.value, positions: walked.positions, files, ignoredUnknownFields: sortProblems(walked.ignoredUnknownFields, fileOrder) };
}

function isNull(node: SourceNode): boolean {
  return node.kind === 'scalar' && node.scalar === null;
}
