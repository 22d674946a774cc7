// Any thread (pure; called on the request path). ASCII-only case folding, as Envoy compares hosts, paths and
// header values (absl::AsciiStrToLower / StartsWithIgnoreCase): letters outside A-Z are never folded.

/** `s` with A-Z lowered; `s` itself (no copy) when it has no upper-case ASCII letter. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return lowerFrom(s, i);
  }
  return s;
}

function lowerFrom(s: string, from: number): string {
  let out = s.slice(0, from);
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

/** Whether s[offset, offset + lower.length) equals `lower` (already ASCII-lowered) ignoring ASCII case. */
export function regionEqualsIgnoreCase(s: string, offset: number, lower: string): boolean {
  const n = lower.length;
  if (offset < 0 || offset + n > s.length) return false;
  for (let j = 0; j < n; j++) {
    let c = s.charCodeAt(offset + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(j)) return false;
  }
  return true;
}
