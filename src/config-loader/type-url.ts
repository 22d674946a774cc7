// Any thread (pure). An `@type` URL -> the Envoy message it names, or why it names none (unknown, or a removed
// v2 type and its v3 replacement).

import { SCHEMA_SOURCE, type MessageInfo, type ProtoSchema } from './proto-schema.ts';
import { isRemovedV2Type, v3Replacement } from './removed-types.ts';
import { TYPE_URL_PREFIX } from './well-known-extensions.ts';

export type TypeUrlResult =
  | { ok: true; info: MessageInfo; url: string }
  | { ok: false; code: 'bad_value' | 'unknown_type' | 'removed_type'; message: string; suggestion: string | undefined };

/** The message full name in a type URL: whatever follows the last '/', as protobuf's resolver reads it. */
export function typeNameOf(url: string): string {
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

/** Normalized URL of a message: type.googleapis.com/<full name>. */
export function typeUrlOf(fullName: string): string {
  return `${TYPE_URL_PREFIX}${fullName}`;
}

export function resolveTypeUrl(url: string, schema: ProtoSchema): TypeUrlResult {
  const slash = url.lastIndexOf('/');
  const name = typeNameOf(url).trim();
  if (slash < 0 || name === '') {
    return {
      ok: false,
      code: 'bad_value',
      message: `@type must be a type URL like "type.googleapis.com/envoy.config.cluster.v3.Cluster", got ${JSON.stringify(url)}`,
      suggestion: slash < 0 && name !== '' ? `did you mean '${typeUrlOf(name)}'?` : undefined,
    };
  }
  // v2 protos still ship beside v3 ones, so this check comes before the lookup.
  if (isRemovedV2Type(name)) {
    const replacement = v3Replacement(name, (n) => schema.lookupMessage(n) !== undefined);
    return {
      ok: false,
      code: 'removed_type',
      message: `@type ${name} is from Envoy's v2 API, which was removed in Envoy 1.18`,
      suggestion: replacement === undefined ? 'use its v3 replacement' : `did you mean ${typeUrlOf(replacement)}?`,
    };
  }
  const info = schema.lookupMessage(name);
  if (info === undefined) {
    // An envoy.* type may be newer than the bundled API rather than a typo: say which API Legate's schema is.
    const newer = name.startsWith('envoy.') ? ` (Legate's schema: ${SCHEMA_SOURCE}; a type added later needs a newer Envoy API than that)` : '';
    return { ok: false, code: 'unknown_type', message: `unknown @type ${name}: no such message in Envoy's v3 API${newer}`, suggestion: undefined };
  }
  return { ok: true, info, url: typeUrlOf(info.fullName) };
}
