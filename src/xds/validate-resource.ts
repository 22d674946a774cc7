// Primary thread (pure). One xDS resource (an Any off the wire) -> the normalized message the compiler reads, through
// the same schema walk and "not supported yet" check as the bootstrap file. Problems name the resource:
// "Listener 'ingress' filter_chains[0].filters[0].typed_config: unknown field 'foo'".

import { protoSchema } from '../config-loader/proto-schema.ts';
import { walkDocument } from '../config-loader/schema-walk.ts';
import { sourceNodeFromValue } from '../config-loader/source-node.ts';
import type { ConfigProblem } from '../config-loader/types.ts';
import { sdsConfigPaths } from './ads-settings.ts';
import { anyToJson } from './proto-json.ts';
import { secretProblems } from './secret-check.ts';
import { XDS_TYPES, type XdsKind } from './resource-types.ts';

/** `json`: the resource normalized (as far as it could be), null when it did not decode. */
export type ResourceCheck =
  | { ok: true; name: string; value: Record<string, unknown>; json: Record<string, unknown> }
  | { ok: false; name: string; problems: string[]; json: Record<string, unknown> | null };

/** A problem of a resource as one line: "<type> '<name>' <field path>: <message>". */
export function resourceProblemLine(label: string, name: string, p: Pick<ConfigProblem, 'path' | 'message' | 'suggestion'>): string {
  const where = p.path === '' ? '' : ` ${p.path}`;
  // The walk's "not supported yet: <path>" names the path we already print first.
  const message = p.path !== '' && p.message === `not supported yet: ${p.path}` ? 'not supported yet' : p.message;
  const hint = p.suggestion === undefined ? '' : ` (${p.suggestion})`;
  // The walk's "not supported yet: x (line N)" has no line here: the resource came off the wire.
  return `${label} '${name}'${where}: ${message}${hint}`;
}

type Obj = Record<string, unknown>;
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

/** A resource from the control plane that names another config source than ADS (a file, its own stream). */
function configSourceProblems(kind: XdsKind, r: Obj): { path: string; message: string; suggestion: undefined }[] {
  const out: { path: string; message: string; suggestion: undefined }[] = [];
  const notAds = (cs: unknown, path: string): void => {
    if (obj(cs)['ads'] === undefined) out.push({ path, message: 'not supported yet: a config source other than ads: {} here', suggestion: undefined });
  };
  if (kind === 'lds' || kind === 'cds') sdsConfigPaths(r, '', (path, cs) => notAds(cs, path));
  if (kind === 'cds' && r['type'] === 'EDS') notAds(obj(r['eds_cluster_config'])['eds_config'], 'eds_cluster_config.eds_config');
  if (kind !== 'lds') return out;
  const chains = Array.isArray(r['filter_chains']) ? (r['filter_chains'] as unknown[]).map((c, i) => [obj(c), `filter_chains[${i}]`] as const) : [];
  const all = r['default_filter_chain'] === undefined ? chains : [...chains, [obj(r['default_filter_chain']), 'default_filter_chain'] as const];
  for (const [chain, chainPath] of all) {
    const filters = Array.isArray(chain['filters']) ? (chain['filters'] as unknown[]) : [];
    filters.forEach((f, i) => {
      const tc = obj(obj(f)['typed_config']);
      if (tc['@type'] === HCM_TYPE && tc['rds'] !== undefined) notAds(obj(tc['rds'])['config_source'], `${chainPath}.filters[${i}].typed_config.rds.config_source`);
    });
  }
  return out;
}

const TYPESCRIPT_FILTER_TYPE = 'type.googleapis.com/legate.filters.http.typescript.v1.TypeScriptFilter';

/**
 * A TypeScript filter runs code from a file in every worker: a control plane could make the proxy run any file on
 * the host. Only the operator's bootstrap (and the files it names) may load one, so a resource from the wire that
 * names one is refused.
 */
function codeLoadingProblems(value: unknown, path: string, out: { path: string; message: string; suggestion: undefined }[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => codeLoadingProblems(v, `${path}[${i}]`, out));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const o = value as Obj;
  if (o['@type'] === TYPESCRIPT_FILTER_TYPE) {
    out.push({ path, message: 'a TypeScript filter loads code into the proxy: only the bootstrap file may configure one, not a control plane', suggestion: undefined });
    return;
  }
  for (const k of Object.keys(o)) codeLoadingProblems(o[k], path === '' ? k : `${path}.${k}`, out);
}

/** Decodes and checks one resource of `kind`; `typeUrl`/`bytes` are the Any's. `nameHint` is the delta name. */
export function checkResource(kind: XdsKind, typeUrl: string, bytes: Uint8Array, nameHint: string | undefined): ResourceCheck {
  const info = XDS_TYPES[kind];
  if (typeUrl !== info.typeUrl) {
    return { ok: false, name: nameHint ?? '?', problems: [`${info.label} '${nameHint ?? '?'}': resource of type ${typeUrl} in a ${info.typeUrl} response`], json: null };
  }
  let json: Record<string, unknown>;
  try {
    json = anyToJson(typeUrl, bytes);
  } catch (err) {
    return { ok: false, name: nameHint ?? '?', problems: [`${info.label} '${nameHint ?? '?'}': cannot decode: ${(err as Error).message}`], json: null };
  }
  delete json['@type'];
  const schema = protoSchema();
  const type = schema.lookupMessage(info.messageName);
  if (type === undefined) throw new Error(`${info.messageName} is missing from the bundled Envoy protos`);
  const walked = walkDocument(sourceNodeFromValue(json), type, schema, { checkSupport: true });
  // The normalized message even when it has problems: /config_dump shows it (redacted) as error_state.
  const normalized = walked.value;
  const name = typeof json[info.nameField] === 'string' ? (json[info.nameField] as string) : '';
  const shown = name === '' ? (nameHint ?? '') : name;
  if (name === '') return { ok: false, name: shown, problems: [`${info.label} '${shown}' ${info.nameField}: a resource needs a non-empty ${info.nameField}`], json: normalized };
  if (nameHint !== undefined && nameHint !== name) {
    return { ok: false, name, problems: [`${info.label} '${name}': sent under the name '${nameHint}'`], json: normalized };
  }
  if (walked.problems.length > 0) {
    return { ok: false, name, problems: walked.problems.map((p) => resourceProblemLine(info.label, name, p)), json: normalized };
  }
  const refused = configSourceProblems(kind, normalized);
  if (kind === 'sds') refused.push(...secretProblems(normalized));
  codeLoadingProblems(normalized, '', refused);
  const sources = refused.map((p) => resourceProblemLine(info.label, name, p));
  if (sources.length > 0) return { ok: false, name, problems: sources, json: normalized };
  return { ok: true, name, value: normalized, json: normalized };
}
