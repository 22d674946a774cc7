// Test helper (main thread of the test process). A strict, hand-checked RFC 9112 framing of a stream of
// requests, written from the RFC's grammar alone and sharing no code with Legate's parser or with llhttp: the
// second opinion on what Legate sends upstream (upstream-differential.test.ts). It is stricter than a server
// need be: it checks what a proxy emits, so anything a careful sender never produces is an error here:
//   §2.2  every line ends in CRLF; no bare CR or LF; no empty lines before a request-line
//   §3    request-line = method SP request-target SP HTTP-version CRLF, single spaces; method a token; the
//         request-target visible ASCII (%x21-7E); HTTP/1.1 or HTTP/1.0
//   §3.2  an HTTP/1.1 request has exactly one Host field
//   §5    field-line = field-name ":" OWS field-value OWS; the name a token, nothing between it and ":";
//         the value VCHAR / obs-text with SP/HTAB only inside; §5.2 no obs-fold
//   §6.1  Transfer-Encoding: exactly one field, exactly "chunked" (the only coding a proxy hop uses), not in
//         HTTP/1.0, never beside Content-Length (§6.3 item 3)
//   §6.2  Content-Length: exactly one field, 1*DIGIT
//   §6.3  item 6: a request with neither has no body
//   §7.1  chunked body: chunk-size 1*HEXDIG, extensions `;name[=token|quoted-string]` without BWS, CRLF after
//         each chunk's data, last-chunk, trailer fields (as §5), final CRLF
//   §9.6  after a request with "Connection: close" nothing follows
// A CONNECT or upgrade request ends the framing (what follows is a tunnel's bytes).

export interface FramedRequest {
  method: string;
  target: string;
  /** "1.1" or "1.0". */
  version: string;
  /** [name, value, ...]: names lower-cased, values without the OWS around them. */
  headers: string[];
  body: Buffer;
  trailers: string[];
  /** Offset just past the message. */
  end: number;
}

export interface FramingResult {
  messages: FramedRequest[];
  /** What is wrong and where ('' when the whole input frames cleanly). */
  error: string;
  /** The input ends inside a message (no error otherwise). */
  incomplete: boolean;
  /** The last message opened a tunnel (CONNECT or upgrade) and the bytes after it were not framed. */
  tunnel: boolean;
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
/** field-value after the OWS is removed: starts and ends with VCHAR/obs-text; SP and HTAB only inside. */
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\x20\x09\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const QUOTED_STRING = /^"(?:[\x09\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\x09\x20\x21-\x7e\x80-\xff])*"$/;

class Incomplete extends Error {}
class Bad extends Error {}

/** Frames `input` (latin1 semantics). */
export function frameRequests(input: Buffer): FramingResult {
  const s = input.toString('latin1');
  const result: FramingResult = { messages: [], error: '', incomplete: false, tunnel: false };
  let pos = 0;
  /** The line starting at p, without its CRLF; throws at a bare CR/LF or when it has not ended. */
  const line = (p: number): { text: string; next: number } => {
    const lf = s.indexOf('\n', p);
    const cr = s.indexOf('\r', p);
    if (cr === -1 && lf === -1) throw new Incomplete();
    if (lf !== -1 && (cr === -1 || lf < cr)) throw new Bad(`bare LF at ${lf} (§2.2)`);
    if (cr === s.length - 1) throw new Incomplete();
    if (s[cr + 1] !== '\n') throw new Bad(`bare CR at ${cr} (§2.2)`);
    return { text: s.slice(p, cr), next: cr + 2 };
  };
  /** Field lines up to the empty line; returns [names lower-cased, values] and the offset after the empty line. */
  const fields = (p: number): { list: string[]; next: number } => {
    const list: string[] = [];
    for (;;) {
      const l = line(p);
      p = l.next;
      if (l.text === '') return { list, next: p };
      if (l.text[0] === ' ' || l.text[0] === '\t') throw new Bad(`obs-fold at ${p} (§5.2)`);
      const colon = l.text.indexOf(':');
      if (colon <= 0) throw new Bad(`field line without a name and ":" ${JSON.stringify(l.text)} (§5)`);
      const name = l.text.slice(0, colon);
      if (!TCHAR.test(name)) throw new Bad(`field name ${JSON.stringify(name)} is not a token (§5.1)`);
      const value = l.text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (!FIELD_VALUE.test(value)) throw new Bad(`field value ${JSON.stringify(value)} of ${name} (§5.5)`);
      list.push(name.toLowerCase(), value);
    }
  };
  const all = (list: string[], name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) out.push(list[i + 1]!);
    return out;
  };
  try {
    while (pos < s.length) {
      const start = pos;
      const rl = line(pos);
      if (rl.text === '') throw new Bad(`empty line before a request-line at ${pos} (§2.2)`);
      const parts = rl.text.split(' ');
      if (parts.length !== 3) throw new Bad(`request-line ${JSON.stringify(rl.text)} is not three parts on single spaces (§3)`);
      const [method, target, version] = parts as [string, string, string];
      if (!TCHAR.test(method)) throw new Bad(`method ${JSON.stringify(method)} (§3.1)`);
      if (!TARGET.test(target)) throw new Bad(`request-target ${JSON.stringify(target)} (§3.2)`);
      if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw new Bad(`version ${JSON.stringify(version)} (§2.3)`);
      const f = fields(rl.next);
      pos = f.next;
      const headers = f.list;
      if (version === 'HTTP/1.1' && all(headers, 'host').length !== 1) {
        throw new Bad(`${all(headers, 'host').length} Host fields in an HTTP/1.1 request (§3.2)`);
      }
      const te = all(headers, 'transfer-encoding');
      const cl = all(headers, 'content-length');
      const connection = all(headers, 'connection').flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase());
      const msg: FramedRequest = {
        method, target, version: version.slice(5), headers, body: Buffer.alloc(0), trailers: [], end: -1,
      };
      if (method === 'CONNECT' || (connection.includes('upgrade') && all(headers, 'upgrade').length > 0)) {
        msg.end = pos;
        result.messages.push(msg);
        result.tunnel = true;
        return result;
      }
      if (te.length > 0) {
        if (te.length !== 1 || te[0]!.toLowerCase() !== 'chunked') throw new Bad(`Transfer-Encoding ${JSON.stringify(te)} (§6.1)`);
        if (version === 'HTTP/1.0') throw new Bad('Transfer-Encoding in HTTP/1.0 (§6.1)');
        if (cl.length > 0) throw new Bad('Transfer-Encoding and Content-Length (§6.3)');
        const body: Buffer[] = [];
        for (;;) {
          const sl = line(pos);
          pos = sl.next;
          const m = /^([0-9A-Fa-f]+)((?:;[^;]*)*)$/.exec(sl.text);
          if (m === null) throw new Bad(`chunk-size line ${JSON.stringify(sl.text)} (§7.1)`);
          for (const ext of m[2]!.split(';').slice(1)) {
            const eq = ext.indexOf('=');
            const name = eq === -1 ? ext : ext.slice(0, eq);
            const val = eq === -1 ? null : ext.slice(eq + 1);
            if (!TCHAR.test(name) || (val !== null && !TCHAR.test(val) && !QUOTED_STRING.test(val))) {
              throw new Bad(`chunk extension ${JSON.stringify(ext)} (§7.1.1)`);
            }
          }
          if (m[1]!.length > 13) throw new Bad(`chunk size ${m[1]} beyond what anyone frames`);
          const size = parseInt(m[1]!, 16);
          if (size === 0) break;
          if (pos + size + 2 > s.length) throw new Incomplete();
          body.push(input.subarray(pos, pos + size));
          pos += size;
          if (s[pos] !== '\r' || s[pos + 1] !== '\n') throw new Bad(`chunk data not followed by CRLF at ${pos} (§7.1)`);
          pos += 2;
        }
        const tr = fields(pos);
        pos = tr.next;
        msg.body = Buffer.concat(body);
        msg.trailers = tr.list;
      } else if (cl.length > 0) {
        if (cl.length !== 1 || !/^[0-9]+$/.test(cl[0]!)) throw new Bad(`Content-Length ${JSON.stringify(cl)} (§6.2)`);
        const n = Number(cl[0]);
        if (pos + n > s.length) throw new Incomplete();
        msg.body = input.subarray(pos, pos + n);
        pos += n;
      }
      msg.end = pos;
      result.messages.push(msg);
      if (connection.includes('close') && pos < s.length) throw new Bad(`bytes after a request with Connection: close, at ${pos} (§9.6)`);
      void start;
    }
  } catch (err) {
    if (err instanceof Incomplete) result.incomplete = true;
    else if (err instanceof Bad) result.error = err.message;
    else throw err;
  }
  return result;
}
