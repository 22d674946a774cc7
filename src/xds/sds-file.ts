// Primary thread. SDS from files (sds_config with path_config_source, or the older path): each file holds a
// DiscoveryResponse whose `resources` is one envoy.extensions.transport_sockets.tls.v3.Secret named as the secret
// config names it (as Envoy's SdsApi wants it). A file is read when a TLS context first names it and again when its
// directory (or watched_directory: a Kubernetes secret mount's `..data` swap) changes; a secret that does not parse
// or check (a key that is not the certificate's) keeps the last good one, logged with file:line:col and field path
// and counted in sds.<name>.update_rejected. Accepted secrets go to the workers in the resource set, the same path
// as SDS over ADS (the config pipeline and a reload's apply: new connections get the new certificate, open ones
// keep theirs).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { log } from '../common/logger.ts';
import { formatConfigProblem } from '../config-loader/config-error.ts';
import { protoSchema } from '../config-loader/proto-schema.ts';
import { walkDocument } from '../config-loader/schema-walk.ts';
import { SourceNode } from '../config-loader/source-node.ts';
import { parseYamlSource } from '../config-loader/yaml-source.ts';
import type { FileSource } from './ads-settings.ts';
import { SECRET_TYPE_URL, type XdsRejection, type XdsResource } from './resource-types.ts';
import { secretProblems } from './secret-check.ts';
import type { XdsStats } from './xds-stats.ts';

type Obj = Record<string, unknown>;

const RESPONSE_KEYS = new Set(['version_info', 'versionInfo', 'type_url', 'typeUrl', 'nonce', 'canary', 'control_plane', 'controlPlane']);
/** A rename into place and a symlink swap come as several events: read once they settle. */
const SETTLE_MS = 50;

export interface SecretFileRead {
  ok: boolean;
  /** The secret (ok), else null. */
  resource: XdsResource | null;
  problems: string[];
  /** The file's content hash: an event that changed nothing is not an update. */
  hash: string;
  /** The secret as far as it was read (error_state, shown redacted), or null. */
  json: Obj | null;
}

function at(file: string, node: SourceNode | undefined): string {
  const p = node?.position;
  return p === undefined ? `${file}: ` : `${p.file}:${p.line}:${p.column}: `;
}

/** The node at a dotted field path under `node` (for the position of a problem found after the walk). */
function nodeAt(node: SourceNode, fieldPath: string): SourceNode {
  let cur = node;
  for (const key of fieldPath.split('.')) {
    if (key === '' || cur.kind !== 'map') break;
    const e = cur.entries.find((x) => x.key === key);
    if (e === undefined) break;
    cur = e.value;
  }
  return cur;
}

/** Reads and checks the secret `name` from `file`; `previous` keeps last_updated when the content is the same. */
export function readSecretFile(file: string, name: string, previous: XdsResource | undefined): SecretFileRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, resource: null, problems: [`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], hash: '', json: null };
  }
  const hash = crypto.createHash('sha256').update(text).digest('hex');
  const fail = (problems: string[], json: Obj | null = null): SecretFileRead => ({ ok: false, resource: null, problems, hash, json });
  const parsed = parseYamlSource(text, file);
  if (parsed.problems.length > 0) return fail(parsed.problems.map(formatConfigProblem));
  const root = parsed.root;
  if (root === undefined || root.kind !== 'map') return fail([`${file}: expected a DiscoveryResponse (a map with resources:)`]);
  let version = '';
  let items: SourceNode[] = [];
  const problems: string[] = [];
  for (const e of root.entries) {
    if (e.key === 'resources') {
      if (e.value.kind === 'seq') items = e.value.items;
      else problems.push(`${at(file, e.value)}resources: expected a list`);
    } else if (e.key === 'version_info' || e.key === 'versionInfo') {
      version = e.value.kind === 'scalar' ? String(e.value.scalar ?? '') : '';
    } else if (!RESPONSE_KEYS.has(e.key)) {
      problems.push(`${at(file, e.value)}${e.key}: unknown field '${e.key}' in a DiscoveryResponse`);
    }
  }
  if (problems.length > 0) return fail(problems);
  // As Envoy's SdsApi: exactly one secret, the one the secret config names.
  if (items.length !== 1) return fail([`${at(file, root)}resources: expected one Secret ('${name}'), got ${items.length}`]);
  const item = items[0]!;
  if (item.kind !== 'map') return fail([`${at(file, item)}resources[0]: expected a Secret`]);
  const typeEntry = item.entries.find((e) => e.key === '@type');
  const typeUrl = typeEntry?.value.kind === 'scalar' ? String(typeEntry.value.scalar) : '';
  if (typeUrl !== SECRET_TYPE_URL) {
    return fail([`${at(file, typeEntry?.value ?? item)}resources[0]: expected "@type": ${SECRET_TYPE_URL}${typeUrl === '' ? '' : `, got ${typeUrl}`}`]);
  }
  const body = SourceNode.mapNode(item.entries.filter((e) => e.key !== '@type'), item.position);
  const schema = protoSchema();
  const walked = walkDocument(body, schema.lookupMessage('envoy.extensions.transport_sockets.tls.v3.Secret')!, schema, { checkSupport: true });
  const json = walked.value;
  for (const p of walked.problems) problems.push(formatConfigProblem({ ...p, path: p.path === '' ? 'resources[0]' : `resources[0].${p.path}` }));
  if (problems.length > 0) return fail(problems, json);
  const got = typeof json['name'] === 'string' ? json['name'] : '';
  if (got !== name) return fail([`${at(file, nodeAt(body, 'name'))}resources[0].name: expected the secret '${name}', got '${got}'`], json);
  for (const p of secretProblems(json)) {
    problems.push(`${at(file, nodeAt(body, p.path))}resources[0]${p.path === '' ? '' : `.${p.path}`}: ${p.message}`);
  }
  if (problems.length > 0) return fail(problems, json);
  const same = previous !== undefined && JSON.stringify(previous.value) === JSON.stringify(json);
  return { ok: true, resource: { name, version, value: json, lastUpdatedMs: same ? previous.lastUpdatedMs : Date.now() }, problems: [], hash, json };
}

interface HeldSecret {
  source: FileSource;
  /** The last good secret, null until one was read. */
  resource: XdsResource | null;
  /** Hash of the file's content last read (good or not). */
  hash: string;
  /** The file was read once (a secret newly named is read at once; later reads follow its directory's events). */
  tried: boolean;
}

/** What a re-read changed, to undo when the set it goes into is refused. */
export interface SecretChange {
  names: string[];
  before: Map<string, XdsResource | null>;
}

/**
 * The SDS secrets from files one xDS source holds: which files are referenced, their last good secrets, the watches
 * on their directories. Changes are reported through `onChange(names)`; the owner applies and accepts or undoes.
 */
export class SdsFileSecrets {
  private readonly stats: XdsStats;
  private readonly onChange: (names: string[]) => void;
  private held = new Map<string, HeldSecret>();
  private readonly rejected = new Map<string, XdsRejection>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Secrets read since the last set was applied, to count update_success once it is. */
  private readonly unaccepted = new Set<string>();
  private stopped = false;

  constructor(stats: XdsStats, onChange: (names: string[]) => void) {
    this.stats = stats;
    this.onChange = onChange;
  }

  /**
   * The secrets the TLS contexts name now: a new one is read (and its directory watched), one no longer named is
   * forgotten, as Envoy drops an SDS subscription nobody uses.
   */
  setRefs(refs: ReadonlyMap<string, FileSource>): void {
    const next = new Map<string, HeldSecret>();
    for (const [name, source] of refs) {
      const held = this.held.get(name);
      if (held !== undefined && held.source.path === source.path && held.source.watchedDirectory === source.watchedDirectory) {
        next.set(name, held);
        continue;
      }
      next.set(name, { source, resource: null, hash: '', tried: false });
    }
    this.held = next;
    for (const n of [...this.rejected.keys()]) if (!next.has(n)) this.rejected.delete(n);
    this.stats.setSecretScopes(next.keys(), 'files');
    for (const [name, h] of next) if (!h.tried) this.read(name, h);
    const dirs = new Set([...next.values()].map((h) => dirOf(h.source)));
    for (const [dir, w] of this.watchers) {
      if (dirs.has(dir)) continue;
      w.close();
      this.watchers.delete(dir);
    }
    for (const dir of dirs) if (!this.watchers.has(dir)) this.watch(dir);
  }

  secrets(): XdsResource[] {
    const out: XdsResource[] = [];
    for (const h of this.held.values()) if (h.resource !== null) out.push(h.resource);
    return out;
  }

  /** The version of the secret read last (the type's version in /config_dump). */
  version(): string {
    let latest: XdsResource | null = null;
    for (const h of this.held.values()) if (h.resource !== null && (latest === null || h.resource.lastUpdatedMs > latest.lastUpdatedMs)) latest = h.resource;
    return latest?.version ?? '';
  }

  rejections(): XdsRejection[] {
    return [...this.rejected.values()];
  }

  /** The secrets read since the last applied set are in use now (counted update_success). */
  acceptAll(): void {
    for (const name of this.unaccepted) {
      const r = this.held.get(name)?.resource;
      if (r !== null && r !== undefined) this.stats.accepted('sds', [name], r.version);
    }
    this.unaccepted.clear();
  }

  /** Re-reads the files of `names`; what changed (content and a good secret) is returned for the owner to apply. */
  reread(names: readonly string[]): SecretChange {
    const change: SecretChange = { names: [], before: new Map() };
    for (const name of names) {
      const h = this.held.get(name);
      if (h === undefined) continue;
      let text: string | null = null;
      try {
        text = fs.readFileSync(h.source.path, 'utf8');
      } catch {
        // Gone for a moment (a swap in progress): read() says so if it stays gone.
      }
      if (text !== null && crypto.createHash('sha256').update(text).digest('hex') === h.hash) continue;
      const before = h.resource;
      if (!this.read(name, h)) continue;
      if (before !== null && JSON.stringify(before.value) === JSON.stringify(h.resource!.value)) {
        // Another file, the same secret (reformatted, a new version_info): nothing for the workers.
        this.unaccepted.delete(name);
        this.stats.accepted('sds', [name], h.resource!.version);
        continue;
      }
      change.names.push(name);
      change.before.set(name, before);
    }
    return change;
  }

  /** The set with `change` was applied. */
  accept(change: SecretChange): void {
    for (const name of change.names) {
      this.unaccepted.delete(name);
      const h = this.held.get(name);
      const r = h?.resource;
      if (r === null || r === undefined) continue;
      this.stats.accepted('sds', [name], r.version);
      log.info(`sds: the secret '${name}' from ${h!.source.path} (version '${r.version}') is in use: new connections get it`);
    }
  }

  /** The set with `change` was refused: the last good secrets stay. */
  undo(change: SecretChange, message: string): void {
    for (const name of change.names) {
      const h = this.held.get(name);
      if (h === undefined) continue;
      const refused = h.resource;
      h.resource = change.before.get(name) ?? null;
      this.unaccepted.delete(name);
      this.stats.inc('sds', 'update_rejected', [name]);
      this.rejected.set(name, { kind: 'sds', name, version: refused?.version ?? '', details: message, atMs: Date.now(), config: (refused?.value as Obj | undefined) ?? null });
      log.error(`sds: the secret '${name}' from ${h.source.path} was refused, the last good one stays:\n${message}`);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Reads `name`'s file into `h`; false (the log, the stats, error_state) when it is refused. */
  private read(name: string, h: HeldSecret): boolean {
    const r = readSecretFile(h.source.path, name, h.resource ?? undefined);
    this.stats.inc('sds', 'update_attempt', [name]);
    h.hash = r.hash;
    h.tried = true;
    if (!r.ok) {
      this.stats.inc('sds', 'update_rejected', [name]);
      this.rejected.set(name, { kind: 'sds', name, version: '', details: r.problems.join('\n'), atMs: Date.now(), config: r.json });
      log.error(`sds: ${h.source.path} rejected${h.resource === null ? '' : ', the last good secret stays'} (secret '${name}'):\n${r.problems.join('\n')}`);
      return false;
    }
    this.rejected.delete(name);
    h.resource = r.resource;
    this.unaccepted.add(name);
    return true;
  }

  private watch(dir: string): void {
    try {
      const w = fs.watch(dir, () => this.changed(dir));
      w.on('error', (err) => log.warn(`sds: watching ${dir} failed: ${err.message}`));
      this.watchers.set(dir, w);
    } catch (err) {
      log.warn(`sds: cannot watch ${dir} (${(err as Error).message}): its secrets are read at start-up only`);
    }
  }

  private changed(dir: string): void {
    if (this.stopped) return;
    const t = this.timers.get(dir);
    if (t !== undefined) clearTimeout(t);
    this.timers.set(dir, setTimeout(() => {
      this.timers.delete(dir);
      const names = [...this.held].filter(([, h]) => dirOf(h.source) === dir).map(([n]) => n);
      if (names.length > 0) this.onChange(names);
    }, SETTLE_MS));
  }
}

/** The directory whose events mean the file may have changed: watched_directory, else the file's own. */
function dirOf(source: FileSource): string {
  return source.watchedDirectory ?? path.dirname(path.resolve(source.path));
}
