// Any thread (pure). The connection manager's path options, applied to :path before routing (Envoy's
// normalize_path and merge_slashes). The query is never touched.

/** RFC 3986 §5.2.4 remove_dot_segments on the path part; also turns backslashes into slashes, as Envoy does. */
export function normalizePath(path: string): string {
  const q = queryStart(path);
  const p = q < 0 ? path : path.slice(0, q);
  if (p.indexOf('.') < 0 && p.indexOf('\\') < 0) return path;
  const segments = p.replace(/\\/g, '/').split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  const normalized = '/' + out.join('/');
  return q < 0 ? normalized : normalized + path.slice(q);
}

/** Collapses runs of '/' in the path part to one. */
export function mergeSlashes(path: string): string {
  const q = queryStart(path);
  const p = q < 0 ? path : path.slice(0, q);
  if (p.indexOf('//') < 0) return path;
  const merged = p.replace(/\/{2,}/g, '/');
  return q < 0 ? merged : merged + path.slice(q);
}

function queryStart(path: string): number {
  const q = path.indexOf('?');
  const h = path.indexOf('#');
  return q < 0 ? h : h < 0 ? q : Math.min(q, h);
}

const ESCAPED_SLASH = /%2f|%5c/i;

/** The path part holds %2F or %5C (either case): an escaped slash or backslash. */
export function hasEscapedSlashes(path: string): boolean {
  const q = queryStart(path);
  return ESCAPED_SLASH.test(q < 0 ? path : path.slice(0, q));
}

/** %2F → '/' and %5C → '\' in the path part (Envoy's path_with_escaped_slashes_action unescaping). */
export function unescapeSlashes(path: string): string {
  const q = queryStart(path);
  const p = q < 0 ? path : path.slice(0, q);
  const out = p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  return q < 0 ? out : out + path.slice(q);
}
