// Any thread (pure). Byte classification tables for the HTTP/1.1 codec (RFC 9110 §5.6.2, RFC 9112), built once.
// A table lookup per byte is the cheapest validation in JS; every parser loop indexes these with a raw byte.

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;

/** tchar: 0 = not a token byte, 1 = token byte, 2 = upper-case letter (a token byte that needs lower-casing). */
export const TOKEN = new Uint8Array(256);
/** Bytes allowed inside a field value: HTAB, SP, VCHAR, obs-text (no CTLs, no DEL). */
export const FIELD_VALUE = new Uint8Array(256);
/** Bytes allowed in a request-target: VCHAR only (as llhttp: no obs-text, no whitespace, no CTLs). */
export const TARGET = new Uint8Array(256);
/**
 * Bytes allowed in the authority of an absolute-form or authority-form target: unreserved, pct-encoded,
 * sub-delims, ":" and the IP-literal brackets (RFC 3986 §3.2). No "@": userinfo is refused (RFC 9110 §4.2.4).
 * The same set llhttp accepts in a URL's server part, minus "@".
 */
export const AUTHORITY = new Uint8Array(256);
/** Hex digit values, -1 for anything else. */
export const HEX = new Int8Array(256);
/** Bytes allowed in a quoted-string of a chunk extension (qdtext): HTAB, SP, VCHAR except '"' and '\', obs-text. */
export const QDTEXT = new Uint8Array(256);

const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";
const AUTHORITY_SYMBOLS = "-._~%!$&'()*+,;=:[]";

for (let c = 0; c < 256; c++) {
  const isDigit = c >= 0x30 && c <= 0x39;
  const isUpper = c >= 0x41 && c <= 0x5a;
  const isLower = c >= 0x61 && c <= 0x7a;
  if (isUpper) TOKEN[c] = 2;
  else if (isDigit || isLower || TOKEN_SYMBOLS.includes(String.fromCharCode(c))) TOKEN[c] = 1;
  const vchar = c >= 0x21 && c <= 0x7e;
  FIELD_VALUE[c] = vchar || c === SP || c === HTAB || c >= 0x80 ? 1 : 0;
  TARGET[c] = vchar ? 1 : 0;
  AUTHORITY[c] = isDigit || isUpper || isLower || AUTHORITY_SYMBOLS.includes(String.fromCharCode(c)) ? 1 : 0;
  HEX[c] = isDigit ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x41 + 10 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
  QDTEXT[c] = FIELD_VALUE[c] === 1 && c !== 0x22 && c !== 0x5c ? 1 : 0;
}

/** The head terminator searched for with one indexOf per chunk. */
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
