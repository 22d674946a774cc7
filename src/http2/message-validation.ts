// Any thread (pure). RFC 9113 §8.2–§8.3 checks on a decoded HTTP/2 header list: what makes a request or its
// trailers malformed. A malformed message is "invalid HTTP messaging" (Envoy's stream_error_on_invalid_http_messaging
// decides whether the stream or the whole connection pays for it).

/** 1 for the octets a field name may hold on HTTP/2: RFC 9110 tchar, lowercase only. */
const NAME_OCTETS = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_OCTETS[c.charCodeAt(0)] = 1;
/** 1 for the octets of a token in either case (:method). */
const TOKEN_OCTETS = NAME_OCTETS.slice();
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') TOKEN_OCTETS[c.charCodeAt(0)] = 1;

/** NUL, CR or LF anywhere, or leading / trailing whitespace (RFC 9113 §8.2.1). */
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

/** Connection-specific fields HTTP/2 forbids (§8.2.2); te is allowed as "trailers" only. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function notToken(s: string, octets: Uint8Array): boolean {
  const n = s.length;
  if (n === 0) return true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || octets[c] === 0) return true;
  }
  return false;
}

/**
 * null when fields (flat name, value pairs) are a well-formed request head; else what is wrong. Pseudo-headers come
 * first, each once, only :method :scheme :path :authority; CONNECT has :method and :authority only; :path is not
 * empty.
 */
export function checkRequestFields(fields: readonly string[]): string | null {
  let method = false;
  let scheme = false;
  let path = false;
  let authority = false;
  let isConnect = false;
  let regular = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (value.length > 0 && BAD_VALUE.test(value)) return `invalid value for ${name}`;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (regular) return `pseudo-header ${name} after a regular header`;
      if (name === ':method') {
        if (method) return 'duplicate :method';
        if (notToken(value, TOKEN_OCTETS)) return 'invalid :method';
        method = true;
        isConnect = value === 'CONNECT';
      } else if (name === ':scheme') {
        if (scheme) return 'duplicate :scheme';
        scheme = true;
      } else if (name === ':path') {
        if (path) return 'duplicate :path';
        if (value.length === 0) return 'empty :path';
        path = true;
      } else if (name === ':authority') {
        if (authority) return 'duplicate :authority';
        authority = true;
      } else return `unknown pseudo-header ${name}`;
      continue;
    }
    regular = true;
    if (notToken(name, NAME_OCTETS)) return `invalid header name ${JSON.stringify(name)}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header ${name}`;
    if (name === 'te' && value !== 'trailers') return 'te other than "trailers"';
  }
  if (!method) return 'missing :method';
  if (isConnect) {
    if (scheme || path) return 'CONNECT with :scheme or :path';
    if (!authority) return 'CONNECT without :authority';
    return null;
  }
  if (!scheme) return 'missing :scheme';
  if (!path) return 'missing :path';
  return null;
}

/** null when trailers (flat pairs) are well-formed: no pseudo-headers, valid names and values. */
export function checkTrailerFields(fields: readonly string[]): string | null {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.charCodeAt(0) === 58) return `pseudo-header ${name} in trailers`;
    if (notToken(name, NAME_OCTETS)) return `invalid trailer name ${JSON.stringify(name)}`;
    const value = fields[i + 1]!;
    if (value.length > 0 && BAD_VALUE.test(value)) return `invalid value for trailer ${name}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific trailer ${name}`;
  }
  return null;
}

/**
 * null when a response head (flat pairs, as the upstream sent it) is well-formed (RFC 9113 §8.3.2): :status once,
 * three digits, first; no other pseudo-header; valid names and values; no connection-specific fields.
 */
export function checkResponseFields(fields: readonly string[]): string | null {
  let status = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (value.length > 0 && BAD_VALUE.test(value)) return `invalid value for ${name}`;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name !== ':status') return `unknown pseudo-header ${name}`;
      if (status) return 'duplicate :status';
      if (i !== 0) return ':status after a regular header';
      if (!/^[1-9][0-9][0-9]$/.test(value)) return 'invalid :status';
      status = true;
      continue;
    }
    if (notToken(name, NAME_OCTETS)) return `invalid header name ${JSON.stringify(name)}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header ${name}`;
  }
  return status ? null : 'missing :status';
}
