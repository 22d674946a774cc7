// Any thread (pure; reads .proto files from disk the first time a type is needed, then caches per thread).
// Envoy's own v3 API definitions (shipped by @grpc/grpc-js-xds) loaded with protobufjs. Starts from
// bootstrap.proto and loads, on demand, the file that defines any other message an `@type` names.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import type { Type, Field, OneOf, Enum } from 'protobufjs';

const BOOTSTRAP_FILE = 'envoy/config/bootstrap/v3/bootstrap.proto';

/**
 * Which Envoy API the bundled schema is: the envoy-api protos @grpc/grpc-js-xds ships (the newest release on npm,
 * the best-kept packaged source of Envoy's .proto files). Their newest additions (e.g. the proto_message_logging
 * filter, renamed in 1.32; no api_key_auth, added in 1.32) date them to Envoy 1.31. Shown by --version and in
 * "needs a newer Envoy API" problems.
 */
export const SCHEMA_ENVOY_API_VERSION = '1.31';
export const SCHEMA_SOURCE = `Envoy API v${SCHEMA_ENVOY_API_VERSION}, from @grpc/grpc-js-xds 1.14.1`;
/** A protobuf full name without the leading dot: identifiers joined by single dots. */
const FULL_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Include directories, located from this module (not the cwd), in protoc's search order. */
function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xdsRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const pbRoot = path.dirname(require.resolve('protobufjs/package.json'));
  const deps = path.join(xdsRoot, 'deps');
  return [
    path.join(deps, 'envoy-api'),
    path.join(deps, 'xds'),
    path.join(deps, 'googleapis'),
    path.join(deps, 'protoc-gen-validate'),
    pbRoot, // google/protobuf/descriptor.proto (the other google/protobuf files are bundled in protobufjs)
    // Legate's own extension messages (legate.filters.http.typescript.v1, ...), validated like Envoy's.
    path.join(import.meta.dirname, 'protos'),
  ];
}

/** Facts about one message type the validator needs, computed once per type. */
export class MessageInfo {
  readonly type: Type;
  /** Without the leading dot: envoy.config.cluster.v3.Cluster */
  readonly fullName: string;
  /** Both spellings: snake_case (proto name) and lowerCamelCase (proto JSON name). */
  readonly fieldsByInputName: Map<string, Field>;
  /** snake_case field names, for "did you mean". */
  readonly fieldNames: string[];
  /** Names Envoy reserved (fields removed from the API, e.g. Cluster.hosts). */
  readonly reservedNames: Set<string>;
  /** Oneofs with `(validate.required) = true`. */
  readonly requiredOneofs: OneOf[];
  /** The `name` + `typed_config` (Any) pair of an extension config (Filter, HttpFilter, AccessLog, ...). */
  readonly isNamedExtension: boolean;

  constructor(type: Type) {
    this.type = type;
    this.fullName = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
    this.fieldsByInputName = new Map();
    this.fieldNames = [];
    const fields = type.fieldsArray;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      this.fieldNames.push(f.name);
      this.fieldsByInputName.set(f.name, f);
      const jsonName = jsonNameOf(f);
      if (jsonName !== f.name) this.fieldsByInputName.set(jsonName, f);
    }
    this.reservedNames = new Set();
    const reserved = type.reserved;
    if (reserved !== undefined && reserved !== null) {
      for (let i = 0; i < reserved.length; i++) {
        const r = reserved[i];
        if (typeof r === 'string') this.reservedNames.add(r);
      }
    }
    this.requiredOneofs = [];
    const oneofs = type.oneofsArray;
    for (let i = 0; i < oneofs.length; i++) {
      const o = oneofs[i]!;
      if (o.options !== undefined && o.options['(validate.required)'] === true) this.requiredOneofs.push(o);
    }
    const tc = type.fields['typed_config'];
    this.isNamedExtension =
      type.fields['name'] !== undefined && tc !== undefined && tc.type.endsWith('google.protobuf.Any') && !tc.repeated;
  }
}

/** proto3 JSON name: json_name if given, else snake_case -> lowerCamelCase. */
export function jsonNameOf(f: Field): string {
  const explicit = f.options?.['json_name'];
  if (typeof explicit === 'string') return explicit;
  return f.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export class ProtoSchema {
  readonly root: protobuf.Root;
  readonly dirs: string[];
  private readonly infos = new WeakMap<Type, MessageInfo>();
  private readonly missing = new Set<string>();
  /** Wall time spent reading and parsing .proto files, for the load-time report. */
  loadMs = 0;

  constructor() {
    this.dirs = includeDirs();
    this.root = new protobuf.Root();
    const dirs = this.dirs;
    this.root.resolvePath = (_origin: string, target: string): string => {
      if (path.isAbsolute(target)) return target;
      for (let i = 0; i < dirs.length; i++) {
        const candidate = path.join(dirs[i]!, target);
        if (fs.existsSync(candidate)) return candidate;
      }
      return target;
    };
    this.loadFile(BOOTSTRAP_FILE);
  }

  private loadFile(relative: string): void {
    const t0 = performance.now();
    this.root.loadSync(relative, { keepCase: true });
    this.loadMs += performance.now() - t0;
  }

  info(type: Type): MessageInfo {
    let i = this.infos.get(type);
    if (i === undefined) {
      i = new MessageInfo(type);
      this.infos.set(type, i);
    }
    return i;
  }

  /** The message called `fullName` (no leading dot), loading its .proto file if needed; undefined if none. */
  lookupMessage(fullName: string): MessageInfo | undefined {
    const found = this.lookupLoaded(fullName);
    if (found !== undefined) return this.info(found);
    if (this.missing.has(fullName)) return undefined;
    // Only a protobuf full name can name a file to load: anything else (an @type is user input) names no type,
    // and never reaches findFileDefining's RegExps and directory paths.
    if (!FULL_NAME.test(fullName)) return undefined;
    const file = this.findFileDefining(fullName);
    if (file !== undefined) {
      try {
        this.loadFile(file);
      } catch {
        // A file protobufjs cannot parse is treated as not defining the type.
      }
      const loaded = this.lookupLoaded(fullName);
      if (loaded !== undefined) return this.info(loaded);
    }
    this.missing.add(fullName);
    return undefined;
  }

  private lookupLoaded(fullName: string): Type | undefined {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(fullName)) return undefined;
    const t = this.root.lookup(`.${fullName}`);
    return t instanceof protobuf.Type ? t : undefined;
  }

  /**
   * The .proto file (relative to an include dir) that declares `fullName`: the package is a directory, so try
   * each split of the name into package + message and look in that directory for `message <Name> {`.
   */
  private findFileDefining(fullName: string): string | undefined {
    const parts = fullName.split('.');
    for (let split = parts.length - 1; split >= 1; split--) {
      const pkg = parts.slice(0, split).join('.');
      const dirRel = parts.slice(0, split).join('/');
      const top = parts[split]!;
      const declares = new RegExp(`(^|\\n)\\s*(message|enum)\\s+${top}\\s*\\{`);
      const packageLine = new RegExp(`(^|\\n)package\\s+${pkg.replace(/\./g, '\\.')}\\s*;`);
      for (let d = 0; d < this.dirs.length; d++) {
        const dir = path.join(this.dirs[d]!, dirRel);
        let names: string[];
        try {
          names = fs.readdirSync(dir);
        } catch {
          continue;
        }
        for (let n = 0; n < names.length; n++) {
          const name = names[n]!;
          if (!name.endsWith('.proto')) continue;
          const text = fs.readFileSync(path.join(dir, name), 'utf8');
          if (packageLine.test(text) && declares.test(text)) return `${dirRel}/${name}`;
        }
      }
    }
    return undefined;
  }
}

export function isEnum(t: unknown): t is Enum {
  return t instanceof protobuf.Enum;
}
export function isMessageType(t: unknown): t is Type {
  return t instanceof protobuf.Type;
}

let shared: ProtoSchema | undefined;

/** The per-thread schema (the Root is built on first use and kept). */
export function protoSchema(): ProtoSchema {
  if (shared === undefined) shared = new ProtoSchema();
  return shared;
}
