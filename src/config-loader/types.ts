// Any thread (pure). The contract of the configuration loader: Envoy v3 YAML/JSON in, normalized messages out.
//
// Normalized form (what every later stage reads; plain data, safe to freeze and to send between threads):
// - keys are the proto field names in snake_case (camelCase input is accepted and renamed);
// - only fields present in the input appear; Envoy defaults are applied by the compiler, not here;
// - enums are their string names ("STRICT_DNS"); a number in the input is turned into the name;
// - google.protobuf.Duration -> number of milliseconds (float); Timestamp -> ISO string;
// - wrapper types (UInt32Value, BoolValue, ...) -> the plain value; int64/uint64 -> number;
// - google.protobuf.Any -> { '@type': 'type.googleapis.com/<full name>', ...fields of that message, normalized };
// - google.protobuf.Struct / Value -> plain JSON; maps -> plain objects; bytes -> base64 string as given;
// - a filter or extension named without typed_config (e.g. `name: envoy.filters.http.router`) gets the
//   typed_config of its well-known type, as Envoy does, so later stages always see typed_config['@type'].

export interface SourcePosition {
  /** Path of the file, or "--config-yaml" for the command-line overlay. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

/** A field path as Envoy prints it: static_resources.listeners[0].filter_chains[0].filters[0].typed_config */
export type FieldPath = string;

/** Where each field of the loaded config came from; paths use FieldPath syntax. */
export interface PositionIndex {
  /**
   * Where the value at `path` was written, or its nearest ancestor's when it has no position of its own. For a
   * field or map entry that is its key, for a list item where the item starts (see position-index.ts).
   */
  at(path: FieldPath): SourcePosition | undefined;
}

export type ConfigErrorCode =
  | 'syntax' // YAML/JSON syntax
  | 'unknown_field'
  | 'wrong_type'
  | 'bad_enum'
  | 'bad_value' // a value that parses but is out of range/invalid (PGV rules, bad duration, bad regex)
  | 'unknown_type' // an @type URL that is not a known message
  | 'removed_type' // a v2/deprecated @type; message suggests the v3 replacement
  | 'not_supported' // valid Envoy, not implemented by Legate yet
  | 'newer_api' // valid in a newer Envoy API than the one Legate's schema holds (proto-schema.ts SCHEMA_SOURCE)
  | 'missing_field' // a required field is absent
  | 'duplicate_name'
  | 'unknown_reference' // e.g. a route naming a cluster that does not exist
  | 'io'; // the file could not be read

/** One problem in a config. `toString()` is the one line a person reads. */
export interface ConfigProblem {
  code: ConfigErrorCode;
  path: FieldPath;
  position: SourcePosition | undefined;
  /** What is wrong and what was expected, e.g. "expected a duration like \"0.25s\", got true". */
  message: string;
  /** "did you mean 'connect_timeout'?" for near-miss names, when there is one. */
  suggestion: string | undefined;
}

export interface LoadedConfig {
  /** Normalized envoy.config.bootstrap.v3.Bootstrap. */
  bootstrap: Record<string, unknown>;
  positions: PositionIndex;
  /** Files read (for reload and watch). */
  files: string[];
  /** Unknown fields let through (ConfigInputs.allowUnknownFields), each as the problem it would have been. */
  ignoredUnknownFields: ConfigProblem[];
}
