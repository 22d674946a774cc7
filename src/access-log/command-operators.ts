// Any thread (pure). Envoy's command operators (%NAME(ARG):LEN%): the table of the ones Legate implements, the
// compiled form of one operator (Segment, one shape for all), and the single switch that reads its value from a
// StreamInfo. Names and semantics follow Envoy's "access log usage" docs so its configs carry over.

import os from 'node:os';
import { formatResponseFlags } from '../http/response-flags.ts';
import { getHeader, type StreamInfo } from '../http/stream-info.ts';
import { FormatError } from './format-error.ts';
import { formatResponseFlagsLong } from './response-flag-long-names.ts';
import { StartTimeFormat } from './start-time-format.ts';

// Operation codes. OP_LITERAL is plain text between operators.
export const OP_LITERAL = 0;
const OP_REQ = 1;
const OP_RESP = 2;
const OP_TRAILER = 3;
const OP_START_TIME = 4;
const OP_RESPONSE_CODE = 5;
const OP_RESPONSE_CODE_DETAILS = 6;
const OP_RESPONSE_FLAGS = 7;
const OP_RESPONSE_FLAGS_LONG = 8;
const OP_DURATION = 9;
const OP_REQUEST_DURATION = 10;
const OP_RESPONSE_DURATION = 11;
const OP_RESPONSE_TX_DURATION = 12;
const OP_BYTES_RECEIVED = 13;
const OP_BYTES_SENT = 14;
const OP_PROTOCOL = 15;
const OP_UPSTREAM_HOST = 16;
const OP_UPSTREAM_CLUSTER = 17;
const OP_UPSTREAM_LOCAL_ADDRESS = 18;
const OP_UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT = 19;
const OP_UPSTREAM_LOCAL_PORT = 20;
const OP_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT = 21;
const OP_UPSTREAM_REMOTE_PORT = 22;
const OP_UPSTREAM_TRANSPORT_FAILURE_REASON = 23;
const OP_DOWNSTREAM_REMOTE_ADDRESS = 24;
const OP_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT = 25;
const OP_DOWNSTREAM_REMOTE_PORT = 26;
const OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS = 27;
const OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT = 28;
const OP_DOWNSTREAM_DIRECT_REMOTE_PORT = 29;
const OP_DOWNSTREAM_LOCAL_ADDRESS = 30;
const OP_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT = 31;
const OP_DOWNSTREAM_LOCAL_PORT = 32;
const OP_ROUTE_NAME = 33;
const OP_CONNECTION_ID = 34;
const OP_STREAM_ID = 35;
const OP_HOSTNAME = 36;
const OP_UPSTREAM_REQUEST_ATTEMPT_COUNT = 37;
const OP_ENVIRONMENT = 38;
const OP_DYNAMIC_METADATA = 39;
const OP_FILTER_STATE = 40;
const OP_FILTER_STATE_PLAIN = 41;
const OP_LOCAL_REPLY_BODY = 42;

// Pseudo-headers %REQ()%/%RESP()% read from StreamInfo fields rather than the header list.
const PSEUDO_NONE = 0;
const PSEUDO_METHOD = 1;
const PSEUDO_PATH = 2;
const PSEUDO_AUTHORITY = 3;
const PSEUDO_SCHEME = 4;
const PSEUDO_STATUS = 5;
/** Any other ':name': never present. */
const PSEUDO_OTHER = 6;

// Argument rules, as Envoy checks them when parsing.
const COMMAND_ONLY = 0;
const PARAMS_REQUIRED = 1;
const PARAMS_OPTIONAL = 2;
const LENGTH_ALLOWED = 4;

interface OperatorSpec {
  readonly op: number;
  readonly syntax: number;
  /** Rendered as a JSON number in typed json_format. */
  readonly numeric: boolean;
}

function spec(op: number, syntax: number, numeric: boolean): OperatorSpec {
  return Object.freeze({ op, syntax, numeric });
}

const OPERATORS: ReadonlyMap<string, OperatorSpec> = new Map([
  ['REQ', spec(OP_REQ, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  ['RESP', spec(OP_RESP, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  ['TRAILER', spec(OP_TRAILER, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  ['START_TIME', spec(OP_START_TIME, PARAMS_OPTIONAL, false)],
  ['RESPONSE_CODE', spec(OP_RESPONSE_CODE, COMMAND_ONLY, true)],
  ['RESPONSE_CODE_DETAILS', spec(OP_RESPONSE_CODE_DETAILS, COMMAND_ONLY, false)],
  ['RESPONSE_FLAGS', spec(OP_RESPONSE_FLAGS, COMMAND_ONLY, false)],
  ['RESPONSE_FLAGS_LONG', spec(OP_RESPONSE_FLAGS_LONG, COMMAND_ONLY, false)],
  ['DURATION', spec(OP_DURATION, COMMAND_ONLY, true)],
  ['REQUEST_DURATION', spec(OP_REQUEST_DURATION, COMMAND_ONLY, true)],
  ['RESPONSE_DURATION', spec(OP_RESPONSE_DURATION, COMMAND_ONLY, true)],
  ['RESPONSE_TX_DURATION', spec(OP_RESPONSE_TX_DURATION, COMMAND_ONLY, true)],
  ['BYTES_RECEIVED', spec(OP_BYTES_RECEIVED, COMMAND_ONLY, true)],
  ['BYTES_SENT', spec(OP_BYTES_SENT, COMMAND_ONLY, true)],
  ['PROTOCOL', spec(OP_PROTOCOL, COMMAND_ONLY, false)],
  ['UPSTREAM_HOST', spec(OP_UPSTREAM_HOST, COMMAND_ONLY, false)],
  ['UPSTREAM_CLUSTER', spec(OP_UPSTREAM_CLUSTER, COMMAND_ONLY, false)],
  ['UPSTREAM_LOCAL_ADDRESS', spec(OP_UPSTREAM_LOCAL_ADDRESS, COMMAND_ONLY, false)],
  ['UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', spec(OP_UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, COMMAND_ONLY, false)],
  ['UPSTREAM_LOCAL_PORT', spec(OP_UPSTREAM_LOCAL_PORT, COMMAND_ONLY, true)],
  // The upstream host is the remote end of the upstream connection.
  ['UPSTREAM_REMOTE_ADDRESS', spec(OP_UPSTREAM_HOST, COMMAND_ONLY, false)],
  ['UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', spec(OP_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, COMMAND_ONLY, false)],
  ['UPSTREAM_REMOTE_PORT', spec(OP_UPSTREAM_REMOTE_PORT, COMMAND_ONLY, true)],
  ['UPSTREAM_TRANSPORT_FAILURE_REASON', spec(OP_UPSTREAM_TRANSPORT_FAILURE_REASON, COMMAND_ONLY, false)],
  ['DOWNSTREAM_REMOTE_ADDRESS', spec(OP_DOWNSTREAM_REMOTE_ADDRESS, COMMAND_ONLY, false)],
  ['DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', spec(OP_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, COMMAND_ONLY, false)],
  ['DOWNSTREAM_REMOTE_PORT', spec(OP_DOWNSTREAM_REMOTE_PORT, COMMAND_ONLY, true)],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS', spec(OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS, COMMAND_ONLY, false)],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT', spec(OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT, COMMAND_ONLY, false)],
  ['DOWNSTREAM_DIRECT_REMOTE_PORT', spec(OP_DOWNSTREAM_DIRECT_REMOTE_PORT, COMMAND_ONLY, true)],
  ['DOWNSTREAM_LOCAL_ADDRESS', spec(OP_DOWNSTREAM_LOCAL_ADDRESS, COMMAND_ONLY, false)],
  ['DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', spec(OP_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, COMMAND_ONLY, false)],
  ['DOWNSTREAM_LOCAL_PORT', spec(OP_DOWNSTREAM_LOCAL_PORT, COMMAND_ONLY, true)],
  ['ROUTE_NAME', spec(OP_ROUTE_NAME, COMMAND_ONLY, false)],
  ['CONNECTION_ID', spec(OP_CONNECTION_ID, COMMAND_ONLY, true)],
  ['STREAM_ID', spec(OP_STREAM_ID, COMMAND_ONLY, false)],
  ['HOSTNAME', spec(OP_HOSTNAME, COMMAND_ONLY, false)],
  ['UPSTREAM_REQUEST_ATTEMPT_COUNT', spec(OP_UPSTREAM_REQUEST_ATTEMPT_COUNT, COMMAND_ONLY, true)],
  ['ENVIRONMENT', spec(OP_ENVIRONMENT, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  ['DYNAMIC_METADATA', spec(OP_DYNAMIC_METADATA, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  ['FILTER_STATE', spec(OP_FILTER_STATE, PARAMS_REQUIRED | LENGTH_ALLOWED, false)],
  // Only in local_reply_config's body_format (the body the reply would have had); empty elsewhere.
  ['LOCAL_REPLY_BODY', spec(OP_LOCAL_REPLY_BODY, COMMAND_ONLY, false)],
]);

/** Envoy operators Legate does not implement yet: named as such instead of "unknown". */
const NOT_SUPPORTED_YET: ReadonlySet<string> = new Set([
  'REQUEST_TX_DURATION', 'REQUEST_HEADERS_BYTES', 'RESPONSE_HEADERS_BYTES', 'RESPONSE_TRAILERS_BYTES',
  'UPSTREAM_PROTOCOL', 'UPSTREAM_WIRE_BYTES_SENT', 'UPSTREAM_WIRE_BYTES_RECEIVED', 'UPSTREAM_HEADER_BYTES_SENT',
  'UPSTREAM_HEADER_BYTES_RECEIVED', 'DOWNSTREAM_WIRE_BYTES_SENT', 'DOWNSTREAM_WIRE_BYTES_RECEIVED',
  'DOWNSTREAM_HEADER_BYTES_SENT', 'DOWNSTREAM_HEADER_BYTES_RECEIVED', 'CONNECTION_TERMINATION_DETAILS',
  'VIRTUAL_CLUSTER_NAME', 'GRPC_STATUS', 'GRPC_STATUS_NUMBER', 'CLUSTER_METADATA',
  'UPSTREAM_METADATA', 'METADATA', 'UPSTREAM_FILTER_STATE', 'REQUESTED_SERVER_NAME',
  'DOWNSTREAM_LOCAL_URI_SAN', 'DOWNSTREAM_PEER_URI_SAN', 'DOWNSTREAM_LOCAL_DNS_SAN', 'DOWNSTREAM_PEER_DNS_SAN',
  'DOWNSTREAM_LOCAL_SUBJECT', 'DOWNSTREAM_PEER_SUBJECT', 'DOWNSTREAM_PEER_ISSUER', 'DOWNSTREAM_TLS_SESSION_ID',
  'DOWNSTREAM_TLS_CIPHER', 'DOWNSTREAM_TLS_VERSION', 'DOWNSTREAM_PEER_FINGERPRINT_256',
  'DOWNSTREAM_PEER_FINGERPRINT_1', 'DOWNSTREAM_PEER_SERIAL', 'DOWNSTREAM_PEER_CERT', 'DOWNSTREAM_PEER_CERT_V_START',
  'DOWNSTREAM_PEER_CERT_V_END', 'UPSTREAM_PEER_SUBJECT', 'UPSTREAM_PEER_ISSUER', 'UPSTREAM_TLS_SESSION_ID',
  'UPSTREAM_TLS_CIPHER', 'UPSTREAM_TLS_VERSION', 'UPSTREAM_PEER_CERT', 'UPSTREAM_PEER_CERT_V_START',
  'UPSTREAM_PEER_CERT_V_END', 'FILTER_CHAIN_NAME', 'CEL', 'UPSTREAM_CONNECTION_ID',
  'DOWNSTREAM_TRANSPORT_FAILURE_REASON', 'UPSTREAM_CLUSTER_RAW', 'ACCESS_LOG_TYPE', 'TRACE_ID', 'UNIQUE_ID',
  'COMMON_DURATION', 'CUSTOM_FLAGS', 'REQ_WITHOUT_QUERY', 'PATH', 'DOWNSTREAM_DIRECT_LOCAL_ADDRESS',
  'DOWNSTREAM_DIRECT_LOCAL_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_DIRECT_LOCAL_PORT', 'DOWNSTREAM_HANDSHAKE_DURATION',
  'ROUNDTRIP_DURATION', 'UPSTREAM_HOST_NAME', 'UPSTREAM_HOST_NAME_WITHOUT_PORT', 'START_TIME_LOCAL', 'EMIT_TIME',
  'EMIT_TIME_LOCAL', 'UPSTREAM_LOCAL_CLOSE_REASON', 'UPSTREAM_DETECTED_CLOSE_TYPE', 'DOWNSTREAM_DETECTED_CLOSE_TYPE',
  'QUERY_PARAM', 'DOWNSTREAM_PEER_CHAIN_FINGERPRINTS_256', 'UPSTREAM_CONNECTION_POOL_READY_DURATION',
  'TLS_JA3_FINGERPRINT', 'TLS_JA4_FINGERPRINT',
]);

/** Read once: the name does not change while the process runs. */
const HOST_NAME = safeHostname();

function safeHostname(): string {
  try {
    return os.hostname();
  } catch {
    return '';
  }
}

/**
 * One piece of a compiled format: literal text or one command operator with its arguments resolved. Every field
 * is set for every kind so all segments share one shape.
 */
export class Segment {
  readonly op: number;
  /** Literal text; the main header name (lower-case) for REQ/RESP/TRAILER; the value for HOSTNAME/ENVIRONMENT. */
  readonly text: string;
  /** Alternative header name (lower-case) of %REQ(X?Y)%, or ''. */
  readonly alt: string;
  readonly mainPseudo: number;
  readonly altPseudo: number;
  /** Truncation (":Z"), or -1. */
  readonly maxLength: number;
  readonly time: StartTimeFormat | null;
  /** Typed JSON renders the value as a number. */
  readonly numeric: boolean;
  /** ENVIRONMENT: whether the variable was set. */
  readonly present: boolean;
  /** DYNAMIC_METADATA: the key path inside the namespace (`text`); empty for the whole namespace. */
  readonly keys: readonly string[];
  /** Typed JSON renders the value with segmentJson (a struct, a JSON string...) instead of a string. */
  readonly structured: boolean;

  constructor(op: number, text: string, alt: string, maxLength: number, time: StartTimeFormat | null, numeric: boolean, present: boolean,
    keys: readonly string[] = NO_KEYS) {
    this.op = op;
    this.text = text;
    this.alt = alt;
    this.mainPseudo = pseudoOf(op, text);
    this.altPseudo = pseudoOf(op, alt);
    this.maxLength = maxLength;
    this.time = time;
    this.numeric = numeric;
    this.present = present;
    this.keys = keys;
    this.structured = op === OP_DYNAMIC_METADATA || op === OP_FILTER_STATE;
  }
}

const NO_KEYS: readonly string[] = Object.freeze([]);

export function literalSegment(text: string): Segment {
  return new Segment(OP_LITERAL, text, '', -1, null, false, true);
}

function pseudoOf(op: number, name: string): number {
  if (op !== OP_REQ && op !== OP_RESP && op !== OP_TRAILER) return PSEUDO_NONE;
  if (op === OP_REQ && name === 'host') return PSEUDO_AUTHORITY; // Envoy keeps Host as :authority
  if (name.charCodeAt(0) !== 58 /* : */) return PSEUDO_NONE;
  if (op === OP_REQ) {
    if (name === ':method') return PSEUDO_METHOD;
    if (name === ':path') return PSEUDO_PATH;
    if (name === ':authority') return PSEUDO_AUTHORITY;
    if (name === ':scheme') return PSEUDO_SCHEME;
  } else if (op === OP_RESP && name === ':status') {
    return PSEUDO_STATUS;
  }
  return PSEUDO_OTHER;
}

/**
 * Compiles one operator (NAME, the text inside its parentheses or undefined, the ":Z" length or -1) into a
 * Segment. Throws FormatError for unknown operators and misuse of arguments.
 */
export function compileOperator(name: string, param: string | undefined, maxLength: number): Segment {
  const entry = OPERATORS.get(name);
  if (entry === undefined) {
    if (NOT_SUPPORTED_YET.has(name)) {
      throw new FormatError('operator_not_supported', name, `command operator %${name}% is not supported yet`);
    }
    throw new FormatError('unknown_operator', name, `unknown command operator %${name}%`);
  }
  const hasParam = param !== undefined && param !== '';
  if ((entry.syntax & 3) === COMMAND_ONLY && hasParam) {
    throw new FormatError('bad_syntax', name, `%${name}% does not take a parameter, got '(${param})'`);
  }
  if ((entry.syntax & 3) === PARAMS_REQUIRED && !hasParam) {
    throw new FormatError('bad_syntax', name, `%${name}% requires a parameter, as in %${name}(...)%`);
  }
  if ((entry.syntax & LENGTH_ALLOWED) === 0 && maxLength >= 0) {
    throw new FormatError('bad_syntax', name, `%${name}% does not take a length (':${maxLength}')`);
  }
  switch (entry.op) {
    case OP_REQ:
    case OP_RESP:
    case OP_TRAILER: {
      const names = param!.split('?');
      if (names.length > 2) {
        throw new FormatError('bad_syntax', name, `%${name}(${param})%: only one alternative header is allowed (X?Y)`);
      }
      for (const n of names) {
        if (/[\r\n\0]/.test(n)) throw new FormatError('bad_syntax', name, `%${name}%: header name contains a newline or NUL`);
      }
      return new Segment(entry.op, names[0]!.toLowerCase(), (names[1] ?? '').toLowerCase(), maxLength, null, false, true);
    }
    case OP_START_TIME:
      return new Segment(entry.op, '', '', -1, new StartTimeFormat(param ?? ''), false, true);
    case OP_HOSTNAME:
      return new Segment(entry.op, HOST_NAME, '', -1, null, false, HOST_NAME !== '');
    case OP_DYNAMIC_METADATA: {
      // NAMESPACE:KEY*, as Envoy's; the namespace may hold dots (envoy.filters.http.jwt_authn), not colons.
      const parts = param!.split(':');
      if (parts.some((p) => p === '')) {
        throw new FormatError('bad_syntax', name, `%${name}(${param})%: expected NAMESPACE:KEY*, with no empty part`);
      }
      return new Segment(entry.op, parts[0]!, '', maxLength, null, false, true, Object.freeze(parts.slice(1)));
    }
    case OP_FILTER_STATE: {
      // KEY, KEY:PLAIN (the string as is) or KEY:TYPED (the default: the object serialized as JSON).
      const parts = param!.split(':');
      const mode = parts[1] ?? 'TYPED';
      if (parts.length > 2 || parts[0] === '' || (mode !== 'PLAIN' && mode !== 'TYPED')) {
        if (mode === 'FIELD') throw new FormatError('operator_not_supported', name, `%${name}(${param})%: FIELD is not supported yet`);
        throw new FormatError('bad_syntax', name, `%${name}(${param})%: expected KEY, KEY:PLAIN or KEY:TYPED`);
      }
      return new Segment(mode === 'PLAIN' ? OP_FILTER_STATE_PLAIN : OP_FILTER_STATE, parts[0]!, '', maxLength, null, false, true);
    }
    case OP_ENVIRONMENT: {
      // Read at compile time, as Envoy does.
      const value = process.env[param!];
      return new Segment(entry.op, value ?? '', '', maxLength, null, false, value !== undefined);
    }
    default:
      return new Segment(entry.op, '', '', -1, null, entry.numeric, true);
  }
}

function requestHeader(info: StreamInfo, name: string, pseudo: number): string | undefined {
  switch (pseudo) {
    case PSEUDO_NONE: return getHeader(info.requestHeaders, name);
    case PSEUDO_METHOD: return info.method === '' ? undefined : info.method;
    case PSEUDO_PATH: return info.path === '' ? undefined : info.path;
    case PSEUDO_AUTHORITY: return info.authority === '' ? undefined : info.authority;
    case PSEUDO_SCHEME: return info.scheme === '' ? undefined : info.scheme;
    default: return undefined;
  }
}

function responseHeader(info: StreamInfo, name: string, pseudo: number): string | undefined {
  if (pseudo === PSEUDO_NONE) return getHeader(info.responseHeaders, name);
  if (pseudo === PSEUDO_STATUS && info.responseCode !== 0) return '' + info.responseCode;
  return undefined;
}

function truncate(value: string, maxLength: number): string {
  return maxLength >= 0 && value.length > maxLength ? value.slice(0, maxLength) : value;
}

function nonEmpty(value: string | null): string | null {
  return value === null || value === '' ? null : value;
}

/** "1.2.3.4:80" -> "1.2.3.4"; "[::1]:80" -> "::1"; anything without a port is returned as is. */
export function addressWithoutPort(address: string): string {
  if (address.charCodeAt(0) === 91 /* [ */) {
    const end = address.indexOf(']');
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.indexOf(':');
  return colon > 0 && colon === address.lastIndexOf(':') ? address.slice(0, colon) : address;
}

/** The port of "ip:port" / "[ip6]:port" as a decimal string, or null. */
export function addressPort(address: string): string | null {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return null;
  if (address.charCodeAt(0) === 91 /* [ */ ? address.charCodeAt(colon - 1) !== 93 /* ] */ : address.indexOf(':') !== colon) return null;
  const port = address.slice(colon + 1);
  return port === '' ? null : port;
}

function withoutPort(address: string | null): string | null {
  return address === null || address === '' ? null : addressWithoutPort(address);
}

function portOf(address: string | null): string | null {
  return address === null || address === '' ? null : addressPort(address);
}

function millisSince(from: number, to: number): string | null {
  return to < 0 || from < 0 ? null : '' + Math.floor(to - from);
}

/**
 * The value of a (non-literal) segment for one request, as text; null when the value is not set (printed "-"
 * in text logs, null in typed JSON). Numeric operators return their decimal form.
 */
export function segmentValue(s: Segment, info: StreamInfo): string | null {
  switch (s.op) {
    case OP_LITERAL: return s.text;
    case OP_REQ: {
      let v = requestHeader(info, s.text, s.mainPseudo);
      if (v === undefined && s.alt !== '') v = requestHeader(info, s.alt, s.altPseudo);
      return v === undefined ? null : truncate(v, s.maxLength);
    }
    case OP_RESP: {
      let v = responseHeader(info, s.text, s.mainPseudo);
      if (v === undefined && s.alt !== '') v = responseHeader(info, s.alt, s.altPseudo);
      return v === undefined ? null : truncate(v, s.maxLength);
    }
    case OP_TRAILER: {
      let v = s.mainPseudo === PSEUDO_NONE ? getHeader(info.responseTrailers, s.text) : undefined;
      if (v === undefined && s.alt !== '' && s.altPseudo === PSEUDO_NONE) v = getHeader(info.responseTrailers, s.alt);
      return v === undefined ? null : truncate(v, s.maxLength);
    }
    case OP_START_TIME: return s.time!.format(info.startTimeMs);
    // 0 means "no response was sent", and Envoy prints it.
    case OP_RESPONSE_CODE: return '' + info.responseCode;
    case OP_RESPONSE_CODE_DETAILS: return nonEmpty(info.responseCodeDetails);
    case OP_RESPONSE_FLAGS: return formatResponseFlags(info.responseFlags);
    case OP_RESPONSE_FLAGS_LONG: return formatResponseFlagsLong(info.responseFlags);
    case OP_DURATION: return millisSince(info.startMonoMs, info.lastDownstreamTxMonoMs);
    case OP_REQUEST_DURATION: return millisSince(info.startMonoMs, info.lastDownstreamRxMonoMs);
    case OP_RESPONSE_DURATION: return millisSince(info.startMonoMs, info.firstUpstreamRxMonoMs);
    case OP_RESPONSE_TX_DURATION: return millisSince(info.firstUpstreamRxMonoMs, info.lastDownstreamTxMonoMs);
    case OP_BYTES_RECEIVED: return '' + info.bytesReceived;
    case OP_BYTES_SENT: return '' + info.bytesSent;
    case OP_PROTOCOL: return nonEmpty(info.protocol);
    case OP_UPSTREAM_HOST: return nonEmpty(info.upstreamHost);
    case OP_UPSTREAM_CLUSTER: return nonEmpty(info.upstreamCluster);
    case OP_UPSTREAM_LOCAL_ADDRESS: return nonEmpty(info.upstreamLocalAddress);
    case OP_UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: return withoutPort(info.upstreamLocalAddress);
    case OP_UPSTREAM_LOCAL_PORT: return portOf(info.upstreamLocalAddress);
    case OP_UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: return withoutPort(info.upstreamHost);
    case OP_UPSTREAM_REMOTE_PORT: return portOf(info.upstreamHost);
    case OP_UPSTREAM_TRANSPORT_FAILURE_REASON: return nonEmpty(info.upstreamTransportFailureReason);
    case OP_DOWNSTREAM_REMOTE_ADDRESS: return nonEmpty(info.downstreamRemoteAddress);
    case OP_DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: return withoutPort(info.downstreamRemoteAddress);
    case OP_DOWNSTREAM_REMOTE_PORT: return portOf(info.downstreamRemoteAddress);
    case OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS: return nonEmpty(info.downstreamDirectRemoteAddress);
    case OP_DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: return withoutPort(info.downstreamDirectRemoteAddress);
    case OP_DOWNSTREAM_DIRECT_REMOTE_PORT: return portOf(info.downstreamDirectRemoteAddress);
    case OP_DOWNSTREAM_LOCAL_ADDRESS: return nonEmpty(info.downstreamLocalAddress);
    case OP_DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: return withoutPort(info.downstreamLocalAddress);
    case OP_DOWNSTREAM_LOCAL_PORT: return portOf(info.downstreamLocalAddress);
    case OP_ROUTE_NAME: return nonEmpty(info.routeName);
    case OP_CONNECTION_ID: return '' + info.connectionId;
    case OP_STREAM_ID: return nonEmpty(info.requestId);
    case OP_HOSTNAME: return s.present ? s.text : null;
    // No retries yet: one attempt once a host was picked, none before (Envoy prints 0 for "never attempted").
    case OP_UPSTREAM_REQUEST_ATTEMPT_COUNT: return String(info.upstreamAttemptCount);
    case OP_ENVIRONMENT: return s.present ? truncate(s.text, s.maxLength) : null;
    case OP_DYNAMIC_METADATA: {
      const v = metadataValue(s, info);
      if (v === undefined || v === null) return null;
      return truncate(typeof v === 'string' ? v : JSON.stringify(v), s.maxLength);
    }
    case OP_FILTER_STATE: {
      // A string object serialized as its JSON (a quoted string), as Envoy's StringAccessor.
      const v = info.getFilterState(s.text);
      return v === undefined ? null : truncate(JSON.stringify(v), s.maxLength);
    }
    case OP_FILTER_STATE_PLAIN: {
      const v = info.getFilterState(s.text);
      return v === undefined ? null : truncate(v, s.maxLength);
    }
    // Always a string, as Envoy's: empty for a request not answered locally.
    case OP_LOCAL_REPLY_BODY: return info.localReplyBody === null ? '' : info.localReplyBody;
    default: return null;
  }
}

/** The dynamic metadata a DYNAMIC_METADATA segment names (undefined when absent). */
function metadataValue(s: Segment, info: StreamInfo): unknown {
  const all = info.dynamicMetadata;
  if (all === null) return undefined;
  let v: unknown = all[s.text];
  const keys = s.keys;
  for (let i = 0; i < keys.length && v !== undefined; i++) {
    v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[keys[i]!] : undefined;
  }
  return v;
}

/**
 * Typed JSON of a `structured` segment: the metadata value itself (a struct stays a struct; a string is truncated
 * to the length), or null when unset.
 */
export function segmentJson(s: Segment, info: StreamInfo): string | null {
  if (s.op === OP_FILTER_STATE) {
    // Typed, a string object is its string (not its JSON text).
    const fs = info.getFilterState(s.text);
    return fs === undefined ? null : JSON.stringify(truncate(fs, s.maxLength));
  }
  const v = metadataValue(s, info);
  if (v === undefined || v === null) return null;
  return JSON.stringify(typeof v === 'string' ? truncate(v, s.maxLength) : v);
}

/** Renders segments as text; unset values become `emptyValue` ("-", or "" with omit_empty_values). */
export function formatSegments(segments: readonly Segment[], info: StreamInfo, emptyValue: string): string {
  let out = '';
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.op === OP_LITERAL) {
      out += s.text;
      continue;
    }
    const v = segmentValue(s, info);
    out += v === null ? emptyValue : v;
  }
  return out;
}
