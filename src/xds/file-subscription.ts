// Primary thread. File-based xDS (path_config_source) for LDS and CDS: each file holds a DiscoveryResponse
// (`version_info`, `resources:` with "@type" on each) in YAML or JSON. It is read at start-up and again whenever its
// directory (or watched_directory, for a symlink swap) changes; each resource goes through the config loader's walk
// with the file's line and column, and the set goes through the same apply path as ADS (the config pipeline and a
// reload's apply). A file that does not parse or check keeps the last good resources, as Envoy's rejected update.
// The SDS secret files the static and these listeners and clusters name ride along (src/xds/sds-file.ts); a
// bootstrap with only such secrets (no lds_config / cds_config) runs this client for them alone.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { log } from '../common/logger.ts';
import { formatConfigProblem } from '../config-loader/config-error.ts';
import { protoSchema } from '../config-loader/proto-schema.ts';
import { walkDocument } from '../config-loader/schema-walk.ts';
import { SourceNode } from '../config-loader/source-node.ts';
import { parseYamlSource } from '../config-loader/yaml-source.ts';
import type { ApplyOutcome } from './ads-client.ts';
import { sdsFileRefsOf, type FileSource, type FileXdsSettings } from './ads-settings.ts';
import { SdsFileSecrets } from './sds-file.ts';
import { edsNamesOf, routeNamesOf } from './merge-resources.ts';
import { XDS_TYPES, type DynamicResourceSet, type XdsRejection, type XdsResource } from './resource-types.ts';
import type { XdsStats } from './xds-stats.ts';

type Obj = Record<string, unknown>;
type FileKind = 'lds' | 'cds';

/** Keys of a DiscoveryResponse a resource file may carry beside `resources`. */
const IGNORED_KEYS = new Set(['version_info', 'versionInfo', 'type_url', 'typeUrl', 'nonce', 'canary', 'control_plane', 'controlPlane']);
/** Changes of a directory come in bursts (an editor's write, a symlink swap): read once they settle. */
const SETTLE_MS = 50;

interface ReadResult {
  ok: boolean;
  resources: XdsResource[];
  version: string;
  problems: string[];
  /** The file's content hash: an event that changed nothing is not an update. */
  hash: string;
}

/** Reads and checks one resource file of `kind`. */
export function readResourceFile(kind: FileKind, file: string, previous: ReadonlyMap<string, XdsResource>): ReadResult {
  const info = XDS_TYPES[kind];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, resources: [], version: '', problems: [`${file}: cannot read: ${(err as Error).message}`], hash: '' };
  }
  const hash = crypto.createHash('sha256').update(text).digest('hex');
  const parsed = parseYamlSource(text, file);
  const problems = parsed.problems.map(formatConfigProblem);
  const root = parsed.root;
  if (problems.length > 0) return { ok: false, resources: [], version: '', problems, hash };
  if (root === undefined || root.kind !== 'map') {
    return { ok: false, resources: [], version: '', problems: [`${file}: expected a DiscoveryResponse (a map with resources:)`], hash };
  }
  let version = '';
  let items: SourceNode[] = [];
  for (const e of root.entries) {
    if (e.key === 'resources') {
      if (e.value.kind === 'seq') items = e.value.items;
      else problems.push(`${pos(file, e.value)}resources: expected a list`);
    } else if (e.key === 'version_info' || e.key === 'versionInfo') {
      version = e.value.kind === 'scalar' ? String(e.value.scalar ?? '') : '';
    } else if (!IGNORED_KEYS.has(e.key)) {
      problems.push(`${pos(file, e.value)}${e.key}: unknown field '${e.key}' in a DiscoveryResponse`);
    }
  }
  const schema = protoSchema();
  const type = schema.lookupMessage(info.messageName)!;
  const resources: XdsResource[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (item.kind !== 'map') {
      problems.push(`${pos(file, item)}resources[${i}]: expected a ${info.label}`);
      return;
    }
    const typeEntry = item.entries.find((e) => e.key === '@type');
    const typeUrl = typeEntry?.value.kind === 'scalar' ? String(typeEntry.value.scalar) : '';
    if (typeUrl !== info.typeUrl) {
      problems.push(`${pos(file, typeEntry?.value ?? item)}resources[${i}]: expected "@type": ${info.typeUrl}${typeUrl === '' ? '' : `, got ${typeUrl}`}`);
      return;
    }
    const body = SourceNode.mapNode(item.entries.filter((e) => e.key !== '@type'), item.position);
    const walked = walkDocument(body, type, schema, { checkSupport: true });
    const name = typeof walked.value['name'] === 'string' ? walked.value['name'] : '';
    for (const p of walked.problems) problems.push(`${formatConfigProblem({ ...p, path: p.path === '' ? `resources[${i}]` : `resources[${i}].${p.path}` })}`);
    if (walked.problems.length > 0) return;
    if (name === '') {
      problems.push(`${pos(file, item)}resources[${i}].name: a ${info.label} needs a non-empty name`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`${pos(file, item)}resources[${i}].name: '${name}' is there twice`);
      return;
    }
    seen.add(name);
    const before = previous.get(name);
    const same = before !== undefined && JSON.stringify(before.value) === JSON.stringify(walked.value);
    resources.push({ name, version, value: walked.value, lastUpdatedMs: same ? before.lastUpdatedMs : Date.now() });
  });
  // Without an ADS stream, nothing can bring a route table or endpoints a resource names.
  const values = resources.map((r) => r.value as Obj);
  const needs = kind === 'lds' ? routeNamesOf(values) : edsNamesOf(values);
  if (needs.length > 0) {
    problems.push(`${file}: not supported yet: ${kind === 'lds' ? 'rds' : 'EDS clusters'} (${needs.join(', ')}) in xDS files: RDS and EDS come over ADS only`);
  }
  return { ok: problems.length === 0, resources, version, problems, hash };
}

function pos(file: string, node: SourceNode): string {
  const p = node.position;
  return p === undefined ? `${file}: ` : `${p.file}:${p.line}:${p.column}: `;
}

/** LDS, CDS and SDS from files, with the ADS client's contract (start, initialized, rejections, stop). */
export class FileXdsClient {
  private readonly settings: FileXdsSettings;
  private readonly stats: XdsStats;
  private readonly apply: (set: DynamicResourceSet) => Promise<ApplyOutcome>;
  private readonly held: Record<FileKind, { resources: Map<string, XdsResource>; version: string; hash: string }> = {
    lds: { resources: new Map(), version: '', hash: '' },
    cds: { resources: new Map(), version: '', hash: '' },
  };
  private watchers: fs.FSWatcher[] = [];
  private timers = new Map<FileKind, NodeJS.Timeout>();
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private initializedResolve!: () => void;
  readonly initialized: Promise<void>;
  /** SDS secrets from files (src/xds/sds-file.ts), named by the static and the file-based listeners and clusters. */
  private readonly sds: SdsFileSecrets;
  /** Start-up could not apply even the static resources (a secret file that never loaded): start-up fails. */
  private readonly onStartFailed: (message: string) => void;

  constructor(settings: FileXdsSettings, stats: XdsStats, apply: (set: DynamicResourceSet) => Promise<ApplyOutcome>, onStartFailed: (message: string) => void = () => undefined) {
    this.settings = settings;
    this.stats = stats;
    this.apply = apply;
    this.onStartFailed = onStartFailed;
    this.sds = new SdsFileSecrets(stats, (names) => this.enqueue(() => this.updateSecrets(names)));
    this.initialized = new Promise((resolve) => {
      this.initializedResolve = resolve;
    });
  }

  start(): void {
    for (const kind of ['cds', 'lds'] as const) {
      const source = this.settings[kind];
      if (source !== null) this.watch(kind, source);
    }
    this.enqueue(async () => {
      // Start-up: what the files hold (a bad file: nothing of its type, said in the log), then serve.
      const read = (['cds', 'lds'] as const).filter((kind) => this.settings[kind] !== null && this.read(kind));
      this.sds.setRefs(this.secretRefs());
      const outcome = await this.apply(this.currentSet());
      if (outcome.ok) {
        for (const kind of read) this.stats.accepted(kind, null, this.held[kind].version);
        this.sds.acceptAll();
      } else {
        log.error(`xds files: the resources cannot be applied, starting without them:\n${outcome.message}`);
        this.held.lds.resources.clear();
        this.held.cds.resources.clear();
        this.sds.setRefs(this.secretRefs());
        const empty = await this.apply(this.currentSet());
        if (!empty.ok) {
          log.error(`xds files: ${empty.message}`);
          this.onStartFailed(empty.message);
          return;
        }
        this.sds.acceptAll();
      }
      this.initializedResolve();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    for (const t of this.timers.values()) clearTimeout(t);
    this.sds.stop();
  }

  currentSet(): DynamicResourceSet {
    return {
      listeners: [...this.held.lds.resources.values()],
      clusters: [...this.held.cds.resources.values()],
      routes: [],
      endpoints: [],
      secrets: this.sds.secrets(),
      versions: { lds: this.held.lds.version, cds: this.held.cds.version, rds: '', eds: '', sds: this.sds.version() },
    };
  }

  /**
   * A refused LDS/CDS file is in the log and the stats (update_rejected); it names no resource to show in
   * /config_dump. A refused secret file shows as the secret's error_state.
   */
  rejections(): XdsRejection[] {
    return this.sds.rejections();
  }

  /** The secrets from files the static and the file-based listeners and clusters name. */
  private secretRefs(): Map<string, FileSource> {
    const refs = new Map<string, FileSource>();
    for (const r of this.settings.sds ?? []) refs.set(r.name, r.source);
    const dynamic = [...this.held.lds.resources.values(), ...this.held.cds.resources.values()].map((r) => r.value);
    sdsFileRefsOf(dynamic, '', refs, (at, message) => log.warn(`xds files: ${at}: ${message}`));
    return refs;
  }

  /** Secret files changed: the set with their new secrets is applied, or the last good ones stay. */
  private async updateSecrets(names: string[]): Promise<void> {
    if (this.stopped) return;
    const change = this.sds.reread(names);
    if (change.names.length === 0) return;
    const outcome = await this.apply(this.currentSet());
    if (outcome.ok) this.sds.accept(change);
    else this.sds.undo(change, outcome.message);
  }

  private enqueue(job: () => Promise<void> | void): void {
    this.work = this.work.then(job).catch((err: unknown) => {
      log.error(`xds files: ${(err as Error).stack ?? String(err)}`);
    });
  }

  /** Watches the directory the file is in (or watched_directory): writes, renames and symlink swaps all show there. */
  private watch(kind: FileKind, source: FileSource): void {
    const dir = source.watchedDirectory ?? path.dirname(source.path);
    try {
      const w = fs.watch(dir, () => this.changed(kind));
      w.on('error', (err) => log.warn(`xds files: watching ${dir} failed: ${err.message}`));
      this.watchers.push(w);
    } catch (err) {
      log.warn(`xds files: cannot watch ${dir} (${(err as Error).message}): ${source.path} is read at start-up only`);
    }
  }

  private changed(kind: FileKind): void {
    if (this.stopped) return;
    const t = this.timers.get(kind);
    if (t !== undefined) clearTimeout(t);
    this.timers.set(kind, setTimeout(() => {
      this.timers.delete(kind);
      this.enqueue(() => this.update(kind));
    }, SETTLE_MS));
  }

  /** Reads `kind`'s file into what is held; false (and the log, the stats) when it is refused. */
  private read(kind: FileKind): boolean {
    const source = this.settings[kind]!;
    const held = this.held[kind];
    const r = readResourceFile(kind, source.path, held.resources);
    this.stats.inc(kind, 'update_attempt', null);
    held.hash = r.hash;
    if (!r.ok) {
      this.stats.inc(kind, 'update_rejected', null);
      log.error(`xds files: ${source.path} rejected, the last good ${XDS_TYPES[kind].label}s stay:\n${r.problems.join('\n')}`);
      return false;
    }
    held.resources = new Map(r.resources.map((x) => [x.name, x]));
    held.version = r.version;
    return true;
  }

  private async update(kind: FileKind): Promise<void> {
    if (this.stopped || this.settings[kind] === null) return;
    const held = this.held[kind];
    const before = { resources: held.resources, version: held.version, hash: held.hash };
    let text: string | null = null;
    try {
      text = fs.readFileSync(this.settings[kind]!.path, 'utf8');
    } catch {
      // Gone for a moment (a swap in progress): read() says so if it stays gone.
    }
    if (text !== null && crypto.createHash('sha256').update(text).digest('hex') === before.hash) return;
    if (!this.read(kind)) return;
    this.sds.setRefs(this.secretRefs());
    const outcome = await this.apply(this.currentSet());
    if (outcome.ok) {
      this.stats.accepted(kind, null, held.version);
      this.sds.acceptAll();
      return;
    }
    held.resources = before.resources;
    held.version = before.version;
    this.sds.setRefs(this.secretRefs());
    this.stats.inc(kind, 'update_rejected', null);
    log.error(`xds files: ${this.settings[kind]!.path} rejected, the last good config stays:\n${outcome.message}`);
  }
}
