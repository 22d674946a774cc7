// Any thread (pure). Reads a TLS ClientHello from the first bytes of a connection, as Envoy's tls_inspector
// does with BoringSSL: the record layer (the hello may span several handshake records and several reads), the
// handshake header, and the server_name and application_layer_protocol_negotiation extensions. Nothing is
// consumed or copied: the caller keeps the bytes (and puts them back on the socket) and calls again with more.

/** Envoy's tls_inspector default (TLS_MAX_CLIENT_HELLO): give up on a hello that has not ended within 64 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

/** What the bytes so far say. */
export const ClientHelloStatus = {
  /** A TLS handshake record so far, but the ClientHello has not ended: read more. */
  NEED_MORE: 0,
  /** A complete ClientHello: serverName and alpn are set. */
  TLS: 1,
  /** Not a TLS ClientHello (plaintext, SSLv2, another handshake message, malformed): the connection is raw_buffer. */
  NOT_TLS: 2,
  /** A ClientHello that does not end within the limit (Envoy counts client_hello_too_large and closes). */
  TOO_LARGE: 3,
} as const;
export type ClientHelloStatus = (typeof ClientHelloStatus)[keyof typeof ClientHelloStatus];

export interface ClientHelloResult {
  status: ClientHelloStatus;
  /** The first host_name of server_name, lower-cased; '' when absent (or when status is not TLS). */
  serverName: string;
  /** The ALPN protocol names offered, in the client's order; [] when the extension is absent. */
  alpn: string[];
  /** NOT_TLS: why, for debug logs ('' otherwise). */
  reason: string;
}

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
/** RFC 8446 5.1: a plaintext record carries at most 2^14 bytes. */
const MAX_RECORD_PAYLOAD = 16384;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const NO_ALPN: string[] = [];

function result(status: ClientHelloStatus, reason = ''): ClientHelloResult {
  return { status, serverName: '', alpn: NO_ALPN, reason };
}

/**
 * Parses what has arrived so far (`data`, from the connection's first byte). Call again with the longer buffer
 * on NEED_MORE. `maxBytes` bounds the bytes looked at (records included); a hello not complete within it is
 * TOO_LARGE. An early verdict on the first bytes (not 0x16 0x03) makes plaintext protocols cheap to tell apart.
 */
export function parseClientHello(data: Uint8Array, maxBytes: number = MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  // Never past the limit, however much one read brought (as Envoy's inspector, which peeks at most that much): the
  // verdict must not depend on how the bytes arrived.
  const n = data.length < maxBytes ? data.length : maxBytes;
  if (n === 0) return result(ClientHelloStatus.NEED_MORE);
  if (data[0] !== CONTENT_HANDSHAKE) return result(ClientHelloStatus.NOT_TLS, 'not a TLS handshake record');
  if (n >= 2 && data[1] !== 0x03) return result(ClientHelloStatus.NOT_TLS, 'record version is not 3.x');

  // First pass over the records: where the handshake bytes are, and whether the hello is complete yet.
  let handshakeLength = -1; // body length from the handshake header, once its 4 bytes are in
  let have = 0; // handshake bytes in complete or partial records so far
  let offset = 0;
  let header: number[] | null = null;
  while (offset < n) {
    if (n - offset < RECORD_HEADER) {
      if (data[offset] !== CONTENT_HANDSHAKE) return result(ClientHelloStatus.NOT_TLS, 'a non-handshake record inside the ClientHello');
      break;
    }
    if (data[offset] !== CONTENT_HANDSHAKE) return result(ClientHelloStatus.NOT_TLS, 'a non-handshake record inside the ClientHello');
    if (data[offset + 1] !== 0x03) return result(ClientHelloStatus.NOT_TLS, 'record version is not 3.x');
    const len = (data[offset + 3]! << 8) | data[offset + 4]!;
    if (len === 0) return result(ClientHelloStatus.NOT_TLS, 'empty handshake record');
    if (len > MAX_RECORD_PAYLOAD) return result(ClientHelloStatus.NOT_TLS, 'record longer than 2^14 bytes');
    const start = offset + RECORD_HEADER;
    const end = Math.min(start + len, n);
    for (let i = start; i < end && handshakeLength < 0; i++) {
      (header ??= []).push(data[i]!);
      if (header.length === 1 && header[0] !== HANDSHAKE_CLIENT_HELLO) return result(ClientHelloStatus.NOT_TLS, 'first handshake message is not a ClientHello');
      if (header.length === 4) {
        handshakeLength = (header[1]! << 16) | (header[2]! << 8) | header[3]!;
        // It cannot fit: no need to wait for 64 KiB of it.
        if (4 + handshakeLength + RECORD_HEADER > maxBytes) return result(ClientHelloStatus.TOO_LARGE);
      }
    }
    have += end - start;
    offset = start + len;
    if (handshakeLength >= 0 && have >= 4 + handshakeLength) {
      return parseBody(data, handshakeLength);
    }
  }
  if (n >= maxBytes) return result(ClientHelloStatus.TOO_LARGE);
  return result(ClientHelloStatus.NEED_MORE);
}

/**
 * The ClientHello body, gathered out of its records (one copy only when it spans several records, rare), then
 * its fields walked with bounds checks.
 */
function parseBody(data: Uint8Array, handshakeLength: number): ClientHelloResult {
  // Single-record fast path: the body is contiguous.
  const firstLen = (data[3]! << 8) | data[4]!;
  let body: Uint8Array;
  if (firstLen >= 4 + handshakeLength) {
    body = data.subarray(RECORD_HEADER + 4, RECORD_HEADER + 4 + handshakeLength);
  } else {
    const joined = new Uint8Array(4 + handshakeLength);
    let w = 0;
    let offset = 0;
    while (w < joined.length) {
      const len = (data[offset + 3]! << 8) | data[offset + 4]!;
      const start = offset + RECORD_HEADER;
      const take = Math.min(len, joined.length - w);
      joined.set(data.subarray(start, start + take), w);
      w += take;
      offset = start + len;
    }
    body = joined.subarray(4);
  }
  const r = new Reader(body);
  r.skip(2 + 32); // legacy_version, random
  const sessionId = r.u8();
  if (sessionId > 32) return result(ClientHelloStatus.NOT_TLS, 'session id longer than 32 bytes');
  r.skip(sessionId);
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0) return result(ClientHelloStatus.NOT_TLS, 'bad cipher_suites length');
  r.skip(suites);
  const compression = r.u8();
  if (compression < 1) return result(ClientHelloStatus.NOT_TLS, 'no compression methods');
  r.skip(compression);
  if (r.bad) return result(ClientHelloStatus.NOT_TLS, 'truncated ClientHello');
  const out = result(ClientHelloStatus.TLS);
  // No extensions at all is legal (SSLv3-era clients): TLS without SNI or ALPN.
  if (r.pos === body.length) return out;
  const extEnd = r.pos + 2 + r.u16();
  if (r.bad || extEnd !== body.length) return result(ClientHelloStatus.NOT_TLS, 'extensions length does not match the ClientHello');
  let sawSni = false;
  let sawAlpn = false;
  while (r.pos < extEnd) {
    const type = r.u16();
    const len = r.u16();
    const end = r.pos + len;
    if (r.bad || end > extEnd) return result(ClientHelloStatus.NOT_TLS, 'extension overruns the ClientHello');
    if (type === EXT_SERVER_NAME) {
      if (sawSni) return result(ClientHelloStatus.NOT_TLS, 'duplicate server_name extension');
      sawSni = true;
      const name = readServerName(body, r.pos, end);
      if (name === null) return result(ClientHelloStatus.NOT_TLS, 'malformed server_name extension');
      out.serverName = name;
    } else if (type === EXT_ALPN) {
      if (sawAlpn) return result(ClientHelloStatus.NOT_TLS, 'duplicate ALPN extension');
      sawAlpn = true;
      const alpn = readAlpn(body, r.pos, end);
      if (alpn === null) return result(ClientHelloStatus.NOT_TLS, 'malformed ALPN extension');
      out.alpn = alpn;
    }
    r.pos = end;
  }
  return out;
}

/** ServerNameList: the first host_name (type 0), lower-cased; '' when there is none; null when malformed. */
function readServerName(b: Uint8Array, start: number, end: number): string | null {
  if (end - start < 2) return null;
  const listEnd = start + 2 + ((b[start]! << 8) | b[start + 1]!);
  if (listEnd !== end) return null;
  let p = start + 2;
  let name = '';
  while (p < listEnd) {
    if (listEnd - p < 3) return null;
    const type = b[p]!;
    const len = (b[p + 1]! << 8) | b[p + 2]!;
    p += 3;
    if (p + len > listEnd) return null;
    if (type === 0 && name === '') {
      if (len === 0) return null;
      for (let i = p; i < p + len; i++) {
        // A host name is printable ASCII without NUL (BoringSSL refuses a NUL in it).
        const c = b[i]!;
        if (c === 0 || c > 0x7e) return null;
      }
      name = latin1(b, p, p + len).toLowerCase();
    }
    p += len;
  }
  return name;
}

/** ProtocolNameList: every name, in order; null when malformed (empty list, empty name, overrun). */
function readAlpn(b: Uint8Array, start: number, end: number): string[] | null {
  if (end - start < 2) return null;
  const listEnd = start + 2 + ((b[start]! << 8) | b[start + 1]!);
  if (listEnd !== end || listEnd === start + 2) return null;
  const out: string[] = [];
  let p = start + 2;
  while (p < listEnd) {
    const len = b[p]!;
    p++;
    if (len === 0 || p + len > listEnd) return null;
    out.push(latin1(b, p, p + len));
    p += len;
  }
  return out;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** Big-endian reads that flag (instead of throwing) a read past the end. */
class Reader {
  readonly b: Uint8Array;
  pos: number;
  bad: boolean;
  constructor(b: Uint8Array) {
    this.b = b;
    this.pos = 0;
    this.bad = false;
  }
  u8(): number {
    if (this.pos + 1 > this.b.length) {
      this.bad = true;
      this.pos = this.b.length;
      return 0;
    }
    return this.b[this.pos++]!;
  }
  u16(): number {
    if (this.pos + 2 > this.b.length) {
      this.bad = true;
      this.pos = this.b.length;
      return 0;
    }
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  skip(n: number): void {
    if (this.pos + n > this.b.length) {
      this.bad = true;
      this.pos = this.b.length;
      return;
    }
    this.pos += n;
  }
}
