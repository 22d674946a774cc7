// Any thread (pure). Validation of a request's authority, whatever the protocol: the HTTP/1.1 Host header, the
// authority of an absolute-form target, HTTP/2's :authority. One check, run once per request before routing.

/**
 * Bytes of a reg-name (RFC 3986 §3.2.2): unreserved and sub-delims, except ",": a comma-joined Host is how two Host
 * values look once folded into one list, and no DNS name holds one. "%" is checked apart (pct-encoded).
 */
const REG_NAME = new Uint8Array(128);
/**
 * Bytes inside "[" "]": IPv6address (HEXDIG, ":" and "." for an IPv4 tail) and IPvFuture ("v" ... unreserved /
 * sub-delims / ":"); the shape is checked apart (isIpLiteralBody).
 */
const IP_LITERAL = new Uint8Array(128);
const HEX = new Uint8Array(128);

for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const alnum = /[A-Za-z0-9]/.test(ch);
  REG_NAME[c] = alnum || "-._~!$&'()*+;=".includes(ch) ? 1 : 0;
  IP_LITERAL[c] = REG_NAME[c] === 1 || ch === ':' ? 1 : 0;
  HEX[c] = /[0-9A-Fa-f]/.test(ch) ? 1 : 0;
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const PERCENT = 0x25;

/**
 * authority = uri-host [ ":" port ] as RFC 9110 §7.2 (Host) and RFC 9112 §3.2.2 (absolute-form) allow it, with
 * uri-host = IP-literal / IPv4address / reg-name (RFC 3986 §3.2.2) and port = *DIGIT. No userinfo ("@" is not a
 * reg-name byte, RFC 9110 §4.2.4), no empty host (§4.2.1), no path, query, list, whitespace or control byte.
 * Linear in the length of `value`, no allocation.
 */
export function isValidAuthority(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  let i = 0;
  if (value.charCodeAt(0) === OPEN_BRACKET) {
    i = 1;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c >= 128 || IP_LITERAL[c] === 0) break;
      i++;
    }
    if (i === 1 || i === n || value.charCodeAt(i) !== CLOSE_BRACKET) return false;
    if (!isIpLiteralBody(value, 1, i)) return false;
    i++;
  } else {
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c === PERCENT) {
        if (i + 2 >= n || !isHex(value.charCodeAt(i + 1)) || !isHex(value.charCodeAt(i + 2))) return false;
        i += 3;
        continue;
      }
      if (c >= 128 || REG_NAME[c] === 0) break;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === n) return true;
  if (value.charCodeAt(i) !== COLON) return false;
  for (i++; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * value[s, e) (between the brackets, already known to hold IP_LITERAL bytes only) is an IPv6address in shape
 * (hex digits, colons, at least two colons, dots only in an IPv4 tail) or an IPvFuture ("v" 1*HEXDIG "." 1*...).
 */
function isIpLiteralBody(value: string, s: number, e: number): boolean {
  const first = value.charCodeAt(s) | 0x20;
  if (first === 0x76 /* v */) {
    let i = s + 1;
    while (i < e && isHex(value.charCodeAt(i))) i++;
    return i > s + 1 && i < e - 1 && value.charCodeAt(i) === 0x2e;
  }
  let colons = 0;
  let dotAt = -1;
  for (let i = s; i < e; i++) {
    const c = value.charCodeAt(i);
    if (c === COLON) {
      if (dotAt >= 0) return false;
      colons++;
    } else if (c === 0x2e) {
      if (dotAt < 0) dotAt = i;
    } else if (!isHex(c)) {
      return false;
    }
  }
  return colons >= 2;
}

function isHex(c: number): boolean {
  return c < 128 && HEX[c] === 1;
}
