// Differential test: thousands of generated request streams (seeded; the seed is printed on failure) go through
// Legate's RequestParser and through Node's own llhttp (the parser node:http uses, driven as node:http drives
// it). Both must reach the same accept/reject decision and report the same messages: method, target, version,
// header list, body bytes, trailers, keep-alive, upgrade and the offset where the next message starts.
// Where Legate is stricter on purpose, the disagreement must match an entry of STRICTER below (with its reason);
// where it accepts an RFC 9112 form llhttp refuses, an entry of RFC_FORMS; where it removes what RFC 9110 says a
// proxy must, explainFieldDiff. Anything else fails the test.
//
// HTTP1_DIFF_SEED=<n> and HTTP1_DIFF_CASES=<n> override the seed and the number of cases.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { bytewise, prng, randomCuts, runRequests, type RequestRun } from './harness.ts';
import { llhttpParseRequests, type OracleMessage, type OracleResult } from './llhttp-oracle.ts';
import { generateCase } from './request-generator.ts';

const SEED = Number(process.env.HTTP1_DIFF_SEED ?? 0x1e9a7e);
const CASES = Number(process.env.HTTP1_DIFF_CASES ?? 20000);

interface Msg {
  method: string;
  target: string;
  version: string;
  headers: string[];
  body: string;
  trailers: string[];
  keepAlive: boolean;
  upgrade: boolean;
  end: number;
}

type Terminal = 'clean' | 'error' | 'closed' | 'tunnel';

interface Outcome {
  messages: Msg[];
  terminal: Terminal;
  detail: string;
}

function lowerNames(list: readonly string[]): string[] {
  return list.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));
}

function legateOutcome(run: RequestRun): Outcome {
  const messages: Msg[] = [];
  for (const m of run.messages) {
    if (!m.complete && !m.head.upgrade) break;
    const h = m.head;
    messages.push({
      method: h.method, target: h.target, version: `1.${h.versionMinor}`, headers: h.headers,
      body: h.upgrade ? '' : m.body.toString('latin1'), trailers: m.trailers ?? [], keepAlive: h.keepAlive,
      upgrade: h.upgrade, end: m.end,
    });
  }
  const last = messages[messages.length - 1];
  if (run.error !== null) return { messages, terminal: 'error', detail: run.error.code };
  if (last?.upgrade) return { messages, terminal: 'tunnel', detail: '' };
  if (last !== undefined && !last.keepAlive) return { messages, terminal: 'closed', detail: '' };
  return { messages, terminal: 'clean', detail: '' };
}

function llhttpOutcome(r: OracleResult): Outcome {
  const messages: Msg[] = r.messages.map((m) => ({
    method: m.method, target: m.target, version: `${m.versionMajor}.${m.versionMinor}`,
    headers: lowerNames(m.rawHeaders), body: m.upgrade ? '' : m.body.toString('latin1'),
    trailers: lowerNames(m.rawTrailers), keepAlive: m.keepAlive, upgrade: m.upgrade, end: m.end,
  }));
  const last = messages[messages.length - 1];
  // Data after `Connection: close` is llhttp refusing to parse on, as Legate ignores it: both stop there.
  if (r.error === 'HPE_CLOSED_CONNECTION') return { messages, terminal: 'closed', detail: '' };
  if (r.error !== '') return { messages, terminal: 'error', detail: `${r.error} (${r.errorReason})` };
  if (r.upgraded) return { messages, terminal: 'tunnel', detail: '' };
  if (r.incomplete) return { messages, terminal: 'error', detail: 'incomplete at finish()' };
  if (last !== undefined && !last.keepAlive) return { messages, terminal: 'closed', detail: '' };
  return { messages, terminal: 'clean', detail: '' };
}

// ---- where Legate is stricter than llhttp, on purpose ----

function fieldValues(m: OracleMessage, lowerName: string, trailers = false): string[] {
  const list = trailers ? m.rawTrailers : m.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i]!.toLowerCase() === lowerName) out.push(list[i + 1]!);
  return out;
}

function listElements(values: string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((e) => e.trim().toLowerCase());
}

const AUTHORITY_FORM = /^[A-Za-z0-9\-._~%!$&'()*+,;=:[\]]+:[0-9]+$/;

/** Does the start of `slice` (a message as llhttp framed it) hold stray CR/LF other than whole CRLFs? */
function strayBeforeRequestLine(slice: string): boolean {
  const lead = /^[\r\n]*/.exec(slice)![0];
  return lead.replace(/\r\n/g, '') !== '';
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Values of `lowerName` fields in the head of `slice`, as sent (llhttp's values lose trailing OWS). */
function rawFieldValues(slice: string, lowerName: string): string[] {
  const msg = slice.replace(/^[\r\n]+/, '');
  const head = msg.slice(0, msg.indexOf('\r\n\r\n') + 2);
  const out: string[] = [];
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === lowerName) out.push(line.slice(colon + 1).replace(/^[ \t]+/, ''));
  }
  return out;
}

function requestLine(slice: string): string {
  const s = slice.replace(/^[\r\n]+/, '');
  const e = s.search(/[\r\n]/);
  return e === -1 ? s : s.slice(0, e);
}

interface Stricter {
  /** Legate's error code for the case. */
  code: string;
  reason: string;
  /** The message llhttp accepted where Legate stopped (undefined when llhttp took the bytes without a message). */
  applies(m: OracleMessage | undefined, slice: string): boolean;
}

/** Each entry: Legate rejects (with `code`) what llhttp accepts, and why. */
export const STRICTER: readonly Stricter[] = [
  {
    code: 'duplicate_host', reason: 'RFC 9112 §3.2: a request with more than one Host line MUST get a 400 (Node keeps the first)',
    applies: (m) => m !== undefined && fieldValues(m, 'host').length > 1,
  },
  {
    code: 'too_many_headers', reason: 'Envoy max_headers_count (100): 431, never silently dropped as node:http does past maxHeadersCount',
    applies: (m) => m !== undefined && (m.rawHeaders.length > 200 || m.rawTrailers.length > 200),
  },
  {
    code: 'http09', reason: 'HTTP/0.9 (a request line without version) is not HTTP/1.x; Envoy rejects it',
    applies: (m) => m !== undefined && m.versionMajor === 0 && m.versionMinor === 9,
  },
  {
    code: 'invalid_version', reason: 'RTSP/x.y and ICE/x.y request lines (which llhttp also parses) are not HTTP',
    applies: (m, slice) => m !== undefined && / (RTSP|ICE)\/\d\.\d$/.test(requestLine(slice)),
  },
  {
    code: 'invalid_method', reason: 'RTSP methods (in RTSP or HTTP/0.9 request lines, which llhttp takes) are not HTTP methods',
    applies: (m, slice) => m !== undefined && (m.versionMajor === 0 || / (RTSP|ICE)\/\d\.\d$/.test(requestLine(slice))),
  },
  {
    code: 'bare_lf', reason: 'HTTP/0.9 (a request line without version) is not HTTP/1.x; llhttp even takes it ended by a bare LF',
    applies: (m) => m !== undefined && m.versionMajor === 0 && m.versionMinor === 9,
  },
  {
    code: 'unsupported_version', reason: 'only HTTP/1.0 and HTTP/1.1 on this codec; llhttp also takes 0.9 and 2.0 (505, as Envoy)',
    applies: (m) => m !== undefined && m.versionMajor !== 1,
  },
  {
    code: 'invalid_target', reason: 'RFC 9112 §3.2.4: asterisk-form is exactly "*" and only for OPTIONS',
    applies: (m) => m !== undefined && m.target.startsWith('*') && !(m.method === 'OPTIONS' && m.target === '*'),
  },
  {
    code: 'invalid_target', reason: 'RFC 9112 §3.2.3: CONNECT takes authority-form only (host ":" port)',
    applies: (m) => m !== undefined && m.method === 'CONNECT' && !AUTHORITY_FORM.test(m.target),
  },
  {
    code: 'invalid_target', reason: 'RFC 9110 §4.2.1/§4.2.4: an http(s) URI with an empty host is invalid; userinfo is refused',
    applies: (m) => {
      if (m === undefined || m.method === 'CONNECT') return false;
      const a = /^[A-Za-z]+:\/\/([^/?#]*)/.exec(m.target);
      return a !== null && (a[1] === '' || a[1]!.includes('@'));
    },
  },
  {
    code: 'invalid_target', reason: 'RFC 9112 §3: single SP between request-line parts (lenient splitting invites smuggling)',
    applies: (m, slice) => m !== undefined && / {2}/.test(requestLine(slice)),
  },
  {
    code: 'invalid_version', reason: 'RFC 9112 §3: single SP between request-line parts (lenient splitting invites smuggling)',
    applies: (m, slice) => m !== undefined && / {2}/.test(requestLine(slice)),
  },
  {
    code: 'bare_lf', reason: 'RFC 9112 §2.2: only empty lines (CRLF) may precede a request-line; llhttp skips any CR or LF',
    applies: (_m, slice) => strayBeforeRequestLine(slice),
  },
  {
    code: 'bare_cr', reason: 'RFC 9112 §2.2: only empty lines (CRLF) may precede a request-line; llhttp skips any CR or LF',
    applies: (_m, slice) => strayBeforeRequestLine(slice),
  },
  {
    code: 'transfer_encoding_http10', reason: 'RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing',
    applies: (m) => m !== undefined && m.versionMinor === 0 && fieldValues(m, 'transfer-encoding').length > 0,
  },
  {
    code: 'unsupported_transfer_encoding', reason: 'Envoy supports only "chunked" and answers 501 to other transfer codings',
    applies: (m) => m !== undefined && listElements(fieldValues(m, 'transfer-encoding')).some((e) => e !== '' && e !== 'chunked'),
  },
  {
    code: 'invalid_transfer_encoding', reason: 'a Transfer-Encoding line with an element that is not a token, or with no element at ' +
      'all: refused on this smuggling-sensitive field, even where a later line makes llhttp see chunked',
    applies: (m, slice) => m !== undefined && rawFieldValues(slice, 'transfer-encoding').some((v) => {
      const elements = v.split(',').map(trimOws).filter((e) => e !== '');
      return elements.length === 0 || elements.some((e) => !TOKEN.test(e));
    }),
  },
  {
    code: 'body_not_allowed', reason: 'a body framed before a CONNECT/upgrade tunnel is ambiguous (Envoy: http1.body_disallowed)',
    applies: (m) => m !== undefined && m.upgrade &&
      (fieldValues(m, 'transfer-encoding').length > 0 || fieldValues(m, 'content-length').some((v) => Number(v) > 0)),
  },
  {
    code: 'invalid_transfer_encoding', reason: 'a malformed Transfer-Encoding is refused on a tunnel request too (llhttp tunnels before looking at it)',
    applies: (m) => m !== undefined && m.upgrade && fieldValues(m, 'transfer-encoding').length > 0,
  },
  {
    code: 'invalid_chunk_extension', reason: 'RFC 9112 §7.1.1: chunk-ext-name is a token, chunk-ext-val a token or quoted-string: neither is empty',
    applies: (m, slice) => {
      const msg = slice.replace(/^[\r\n]+/, '');
      return m !== undefined && /=[;\r]|;[;=]/.test(msg.slice(msg.indexOf('\r\n\r\n') + 4));
    },
  },
  {
    code: 'invalid_transfer_encoding', reason: 'RFC 9112 §6.1: chunked listed twice across Transfer-Encoding lines, where llhttp ' +
      'reads one of them ("chunked<HTAB>", "chunked,") as something else and the other as chunked',
    applies: (m, slice) => m !== undefined && rawFieldValues(slice, 'transfer-encoding')
      .flatMap((v) => v.split(',')).filter((e) => trimOws(e).toLowerCase() === 'chunked').length > 1,
  },
  {
    code: 'connection_header_rejected', reason: 'Envoy (sanitizeConnectionHeader): a request whose Connection nominates ' +
      'X-Forwarded-For/-Host/-Proto, or lists 10 options or more, is refused',
    applies: (m) => {
      if (m === undefined) return false;
      const options = listElements(fieldValues(m, 'connection')).filter((e) => e !== '');
      return options.length >= 10 || options.some((e) => /^x-forwarded-(for|host|proto)$/.test(e));
    },
  },
  {
    code: 'invalid_trailer', reason: 'RFC 9110 §6.5.1: framing/routing fields (Host, Connection, Upgrade, ...) are not allowed as trailers',
    applies: (m) => m !== undefined &&
      ['host', 'connection', 'upgrade', 'proxy-connection'].some((n) => fieldValues(m, n, true).length > 0),
  },
];

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Connection options that name no field to remove (connection semantics, te, the framing fields). */
const NOT_NOMINATED = new Set(['close', 'keep-alive', 'upgrade', 'te', 'http2-settings', 'connection', 'content-length', 'transfer-encoding']);

/** The field names a message's Connection fields nominate (RFC 9110 §7.6.1): token options, lower-cased. */
function nominatedFields(m: OracleMessage): Set<string> {
  const options = fieldValues(m, 'connection').flatMap((v) => v.split(',')).map((e) => trimOws(e).toLowerCase());
  return new Set(options.filter((e) => TOKEN.test(e) && !NOT_NOMINATED.has(e)));
}

function withoutFields(list: readonly string[], names: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!names.has(list[i]!)) out.push(list[i]!, list[i + 1]!);
  return out;
}

const NOMINATED = 'RFC 9110 §7.6.1: a proxy removes the fields a Connection header names (llhttp, a server parser, keeps them)';

/** Field-level differences that are deliberate: each differing field must have its reason. */
function explainFieldDiff(diffs: string[], l: Msg, nm: Msg, n: OracleMessage): string | null {
  const reasons: string[] = [];
  const connection = listElements([...fieldValues(n, 'connection'), ...fieldValues(n, 'proxy-connection')]);
  for (const d of diffs) {
    if (d === 'keepAlive' && !l.keepAlive && n.keepAlive && connection.includes('close')) {
      reasons.push('RFC 9112 §9.3: a "close" option ends the connection even beside keep-alive (llhttp keeps HTTP/1.0 keep-alive)');
    } else if ((d === 'headers' || d === 'trailers') &&
      JSON.stringify(l[d]) === JSON.stringify(withoutFields(nm[d], nominatedFields(n)))) {
      if (!reasons.includes(NOMINATED)) reasons.push(NOMINATED);
    } else {
      return null;
    }
  }
  return reasons.join(' + ');
}

interface RfcForm {
  /** llhttp's error code for the message. */
  llhttpError: string;
  reason: string;
  /** `slice` is the message as Legate framed it (from the end of the previous one). */
  applies(slice: string, llhttpReason: string): boolean;
}

/** The chunk-size lines of a (chunked) message as sent: the lines after the head that start with a hex digit. */
function chunkLines(slice: string): string[] {
  const msg = slice.replace(/^[\r\n]+/, '');
  return msg.slice(msg.indexOf('\r\n\r\n') + 4).split('\r\n').filter((line) => /^[0-9A-Fa-f]/.test(line));
}

const T = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[^"\\\\]|\\\\.)*"';
/** chunk-size [ chunk-ext ] with BWS where RFC 9112 §7.1.1 has it, and some BWS used. */
const CHUNK_LINE_BWS = new RegExp(`^[0-9A-Fa-f]+(?:[ \\t]*;[ \\t]*${T}(?:[ \\t]*=[ \\t]*(?:${T}|${QUOTED}))?)+$`);

/** Each entry: Legate accepts, as RFC 9112 reads it, a message llhttp refuses (llhttp's strict mode is narrower). */
export const RFC_FORMS: readonly RfcForm[] = [
  {
    llhttpError: 'HPE_INVALID_TRANSFER_ENCODING',
    reason: 'RFC 9110 §5.6.1: empty list elements are ignored and OWS may follow the last one ("chunked,", "chunked<HTAB>" ' +
      'list exactly chunked; llhttp refuses them)',
    applies: (slice) => {
      const values = rawFieldValues(slice, 'transfer-encoding');
      const elements = values.flatMap((v) => v.split(',')).map(trimOws);
      const codings = elements.filter((e) => e !== '');
      return codings.length === 1 && codings[0]!.toLowerCase() === 'chunked' &&
        values.some((v) => v.split(',').map(trimOws).includes('') || /\t[ \t]*$/.test(v));
    },
  },
  {
    llhttpError: 'HPE_INVALID_CHUNK_SIZE',
    reason: 'RFC 9112 §7.1.1: BWS before ";" of a chunk extension (llhttp wants ";" right after the size)',
    applies: (slice, why) => /chunk size/.test(why) && chunkLines(slice).some((line) => CHUNK_LINE_BWS.test(line) && /^[0-9A-Fa-f]+[ \t]/.test(line)),
  },
  {
    llhttpError: 'HPE_STRICT',
    reason: 'RFC 9112 §7.1.1: BWS around ";" and "=" in chunk extensions (llhttp refuses whitespace there)',
    applies: (slice, why) => /chunk extension/.test(why) && chunkLines(slice).some((line) => CHUNK_LINE_BWS.test(line) &&
      /[ \t]/.test(line.replace(new RegExp(QUOTED, 'g'), ''))),
  },
];

const H2C = 'Envoy ignores "Upgrade: h2c" (no cleartext HTTP/2 upgrade): Legate parses on, strictly, what llhttp hands to a tunnel';

function h2cOnly(n: OracleMessage): boolean {
  const upgrades = fieldValues(n, 'upgrade').filter((v) => v.trim() !== '');
  return n.upgrade && n.method !== 'CONNECT' && upgrades.every((v) => v.trim().toLowerCase() === 'h2c');
}

const FIELDS = ['method', 'target', 'version', 'headers', 'body', 'trailers', 'keepAlive', 'upgrade', 'end'] as const;

interface Verdict {
  ok: boolean;
  /** The whitelist reason, when the parsers disagreed on purpose. */
  stricter: string;
  why: string;
}

function compare(raw: Buffer, lo: Outcome, no: Outcome, oracle: OracleResult, run: RequestRun): Verdict {
  const text = raw.toString('latin1');
  for (let i = 0; ; i++) {
    const l = lo.messages[i];
    const n = no.messages[i];
    // h2c: llhttp stops at this head (a tunnel); Legate's head must be the same plain request, and what follows
    // is Legate's own (stricter) business.
    const lh = run.messages[i]?.head;
    if (n !== undefined && h2cOnly(oracle.messages[i]!) && lh !== undefined && !lh.upgrade) {
      const same = lh.method === n.method && lh.target === n.target && `1.${lh.versionMinor}` === n.version &&
        JSON.stringify(lh.headers) === JSON.stringify(withoutFields(n.headers, nominatedFields(oracle.messages[i]!)));
      return same ? { ok: true, stricter: H2C, why: '' } : { ok: false, stricter: '', why: `h2c head ${i} differs` };
    }
    const start = i === 0 ? 0 : no.messages[i - 1]!.end;
    if (l !== undefined && n !== undefined) {
      const diffs = FIELDS.filter((f) => JSON.stringify(l[f]) !== JSON.stringify(n[f]));
      if (diffs.length === 0) continue;
      const reason = explainFieldDiff(diffs, l, n, oracle.messages[i]!);
      if (reason !== null) return { ok: true, stricter: reason, why: '' };
      return { ok: false, stricter: '', why: `message ${i} differs in ${diffs.join(', ')}` };
    }
    if (l !== undefined) {
      const form = no.terminal === 'error'
        ? RFC_FORMS.find((x) => x.llhttpError === oracle.error && x.applies(text.slice(start, l.end), oracle.errorReason))
        : undefined;
      if (form !== undefined) return { ok: true, stricter: form.reason, why: '' };
      return { ok: false, stricter: '', why: `Legate accepted message ${i}; llhttp: ${no.terminal} ${no.detail}` };
    }
    if (n !== undefined) {
      if (lo.terminal !== 'error') return { ok: false, stricter: '', why: `Legate ${lo.terminal} before message ${i}` };
      const slice = text.slice(start, n.end);
      const s = STRICTER.find((x) => x.code === lo.detail && x.applies(oracle.messages[i], slice));
      if (s !== undefined) return { ok: true, stricter: s.reason, why: '' };
      return { ok: false, stricter: '', why: `Legate rejected message ${i} (${lo.detail}) that llhttp accepted` };
    }
    if (lo.terminal === no.terminal) return { ok: true, stricter: '', why: '' };
    if (lo.terminal === 'error') {
      const s = STRICTER.find((x) => x.code === lo.detail && x.applies(undefined, text.slice(start)));
      if (s !== undefined) return { ok: true, stricter: s.reason, why: '' };
    }
    return { ok: false, stricter: '', why: `after ${i} messages Legate is ${lo.terminal} ${lo.detail}, llhttp ${no.terminal} ${no.detail}` };
  }
}

describe('differential: Legate RequestParser vs Node llhttp', () => {
  it(`agrees on ${CASES} generated request streams (seed ${SEED})`, () => {
    const rnd = prng(SEED);
    const failures: string[] = [];
    const stricterSeen = new Map<string, number>();
    let rejectedByBoth = 0;
    let acceptedByBoth = 0;
    let messages = 0;
    for (let k = 0; k < CASES && failures.length < 10; k++) {
      const c = generateCase(rnd);
      const run = runRequests(bytewise(c.raw), true);
      // The same bytes in one piece and in random pieces must give the same record.
      const whole = runRequests([c.raw], true);
      const split = runRequests(randomCuts(c.raw, rnd, 3), true);
      if (JSON.stringify(whole.log) !== JSON.stringify(run.log) || JSON.stringify(split.log) !== JSON.stringify(run.log)) {
        failures.push(`case ${k}: Legate depends on chunking\n  raw ${JSON.stringify(c.raw.toString('latin1'))}`);
        continue;
      }
      const lo = legateOutcome(run);
      const oracle = llhttpParseRequests(c.raw);
      const no = llhttpOutcome(oracle);
      const v = compare(c.raw, lo, no, oracle, run);
      if (!v.ok) {
        failures.push(`case ${k} (seed ${SEED}): ${v.why}\n  notes ${c.notes.join('; ')}\n  raw ${JSON.stringify(c.raw.toString('latin1'))}\n` +
          `  legate ${JSON.stringify(lo)}\n  llhttp ${JSON.stringify(no)}`);
        continue;
      }
      if (v.stricter !== '') stricterSeen.set(v.stricter, (stricterSeen.get(v.stricter) ?? 0) + 1);
      else if (lo.terminal === 'error') rejectedByBoth++;
      else acceptedByBoth++;
      messages += lo.messages.length;
    }
    if (failures.length > 0) {
      assert.fail(`${failures.length} disagreement(s), seed ${SEED} (HTTP1_DIFF_SEED=${SEED} to replay):\n${failures.join('\n')}`);
    }
    // The generator must keep exercising both sides of the decision.
    assert.ok(acceptedByBoth > CASES / 4, `only ${acceptedByBoth} accepted by both`);
    assert.ok(rejectedByBoth > CASES / 10, `only ${rejectedByBoth} rejected by both`);
    const summary = [...stricterSeen].map(([r, n]) => `  ${n} x ${r}`).join('\n');
    console.log(`seed ${SEED}, ${CASES} cases: ${acceptedByBoth} accepted by both (${messages} messages), ${rejectedByBoth} rejected by both, ` +
      `Legate stricter in:\n${summary}`);
  });

  it('the whitelist is not vacuous: every entry matches a hand-written case', () => {
    const cases: Record<string, string> = {
      duplicate_host: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      http09: 'GET /\r\n\r\n',
      unsupported_version: 'GET / HTTP/2.0\r\n\r\n',
      transfer_encoding_http10: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      unsupported_transfer_encoding: 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      invalid_transfer_encoding: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      connection_header_rejected: 'GET / HTTP/1.1\r\nConnection: close, X-Forwarded-For\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n',
      body_not_allowed: 'GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: ws\r\nContent-Length: 1\r\n\r\nx',
      invalid_chunk_extension: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\r\nx\r\n0\r\n\r\n',
      invalid_trailer: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: x\r\n\r\n',
      bare_lf: '\nGET / HTTP/1.1\r\n\r\n',
      bare_cr: '\rGET / HTTP/1.1\r\n\r\n',
      too_many_headers: `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(101)}\r\n`,
      invalid_version: 'GET / RTSP/1.0\r\n\r\n',
      invalid_method: 'DESCRIBE /\r\n\r\n',
    };
    const teTwice = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    const targets = ['GET * HTTP/1.1\r\n\r\n', 'CONNECT a/b HTTP/1.1\r\n\r\n', 'GET http://u@h/ HTTP/1.1\r\n\r\n', 'GET  / HTTP/1.1\r\n\r\n'];
    const tunnelTe = 'GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: ws\r\nTransfer-Encoding: gzip\r\n\r\n';
    const http09Lf = 'GET /\nHost: a\r\n\r\n';
    const all = [...Object.values(cases), ...targets, tunnelTe, http09Lf, teTwice, 'GET /  HTTP/1.1\r\n\r\n', 'PLAY / RTSP/1.0\r\n\r\n'];
    const used = new Set<Stricter>();
    for (const raw of all) {
      const buf = Buffer.from(raw, 'latin1');
      const run = runRequests(bytewise(buf), true);
      const lo = legateOutcome(run);
      const oracle = llhttpParseRequests(buf);
      const no = llhttpOutcome(oracle);
      assert.equal(lo.terminal, 'error', raw);
      assert.notEqual(no.terminal, 'error', `llhttp rejects ${JSON.stringify(raw)}: no longer a difference`);
      const v = compare(buf, lo, no, oracle, run);
      assert.ok(v.ok && v.stricter !== '', `${JSON.stringify(raw)}: ${v.why}`);
      for (const s of STRICTER) if (s.reason === v.stricter && s.code === lo.detail) used.add(s);
    }
    assert.deepEqual(STRICTER.filter((s) => !used.has(s)).map((s) => `${s.code}: ${s.reason}`), []);
  });

  it('the RFC-form list is not vacuous: every entry matches a hand-written case llhttp refuses', () => {
    const post = (te: string, body: string): string => `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${te}\r\n\r\n${body}`;
    const cases = [
      post('chunked,', '1\r\nx\r\n0\r\n\r\n'),
      post('chunked\t', '1\r\nx\r\n0\r\n\r\n'),
      post('chunked', '1 ;a=b\r\nx\r\n0\r\n\r\n'),
      post('chunked', '1;a = "b c" ; d\r\nx\r\n0\r\n\r\n'),
    ];
    const used = new Set<RfcForm>();
    for (const raw of cases) {
      const buf = Buffer.from(raw, 'latin1');
      const run = runRequests(bytewise(buf), true);
      const lo = legateOutcome(run);
      const oracle = llhttpParseRequests(buf);
      const no = llhttpOutcome(oracle);
      assert.equal(lo.terminal, 'clean', raw);
      assert.equal(lo.messages[0]!.body, 'x', raw);
      assert.equal(no.terminal, 'error', `llhttp accepts ${JSON.stringify(raw)}: no longer a difference`);
      const v = compare(buf, lo, no, oracle, run);
      assert.ok(v.ok && v.stricter !== '', `${JSON.stringify(raw)}: ${v.why}`);
      for (const f of RFC_FORMS) if (f.reason === v.stricter) used.add(f);
    }
    assert.deepEqual(RFC_FORMS.filter((f) => !used.has(f)).map((f) => f.reason), []);
    // A form RFC 9112 does not allow is not whitelisted: BWS before the CRLF of a chunk line.
    const bad = Buffer.from(post('chunked', '1;a \r\nx\r\n0\r\n\r\n'), 'latin1');
    assert.equal(legateOutcome(runRequests([bad], true)).detail, 'invalid_chunk_extension');
  });

  it('removing Connection-nominated fields is the only header difference explained', () => {
    const raw = Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a\r\nX-A: 1\r\nX-B: 2\r\n\r\n', 'latin1');
    const run = runRequests(bytewise(raw), true);
    const lo = legateOutcome(run);
    const oracle = llhttpParseRequests(raw);
    const v = compare(raw, lo, llhttpOutcome(oracle), oracle, run);
    assert.ok(v.ok && v.stricter.startsWith('RFC 9110 §7.6.1'), v.why);
    // Had Legate dropped a field nobody nominated, the difference would not be explained.
    const other = Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a\r\nX-B: 2\r\nX-A: 1\r\n\r\n', 'latin1');
    const oracle2 = llhttpParseRequests(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nConnection: x-c\r\nX-B: 2\r\nX-A: 1\r\n\r\n', 'latin1'));
    const run2 = runRequests([other], true);
    assert.equal(compare(other, legateOutcome(run2), llhttpOutcome(oracle2), oracle2, run2).ok, false);
  });

  it('the comparison catches a real disagreement (a Legate acceptance llhttp refuses)', () => {
    const raw = Buffer.from('GET / HTTP/1.1\r\nA: b\r\n\r\n', 'latin1');
    const run = runRequests(bytewise(raw), true);
    const lo = legateOutcome(run);
    const oracle = llhttpParseRequests(Buffer.from('GET / HTTP/1.1\r\nA : b\r\n\r\n', 'latin1'));
    assert.equal(oracle.error, 'HPE_INVALID_HEADER_TOKEN');
    assert.equal(compare(raw, lo, llhttpOutcome(oracle), oracle, run).ok, false);
  });
});

/** What a real node:http server saw on one connection. */
interface ServerView {
  heads: string[];
  error: string;
  closed: Promise<void>;
}

describe('the llhttp oracle is node:http', () => {
  it('decides like a real node:http server on 127.0.0.1 (insecureHTTPParser false)', async () => {
    const views = new Map<number, ServerView>();
    const server = createServer({ insecureHTTPParser: false, requireHostHeader: false });
    const seen = (req: IncomingMessage): void => {
      views.get(req.socket.remotePort!)?.heads.push(`${req.method} ${req.url}`);
    };
    server.on('request', (req, res) => {
      seen(req);
      res.end();
    });
    // A proxy takes upgrades and CONNECT; any Expect value is let through (default: 417 without 'request').
    server.on('checkExpectation', (req, res) => {
      seen(req);
      res.end();
    });
    server.on('upgrade', (req, socket: Socket) => {
      seen(req);
      socket.destroy();
    });
    server.on('connect', (req, socket: Socket) => {
      seen(req);
      socket.destroy();
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const v = views.get(socket.remotePort!);
      if (v !== undefined && v.error === '') v.error = err.code ?? 'error';
      socket.destroy();
    });
    server.on('connection', (socket: Socket) => {
      const v = views.get(socket.remotePort!);
      if (v !== undefined) v.closed = once(socket, 'close').then(() => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;

    const rnd = prng(SEED ^ 0x5eed);
    const cases = Array.from({ length: 600 }, () => generateCase(rnd).raw);
    const failures: string[] = [];
    let totalHeads = 0;
    let totalErrors = 0;
    const runOne = async (raw: Buffer): Promise<void> => {
      const client = connect({ port, host: '127.0.0.1' });
      await once(client, 'connect');
      const view: ServerView = { heads: [], error: '', closed: Promise.resolve() };
      views.set(client.localPort!, view);
      client.on('data', () => {});
      client.on('error', () => {});
      client.end(raw);
      await once(client, 'close');
      await view.closed;
      views.delete(client.localPort!);
      const o = llhttpParseRequests(raw);
      const oracleHeads = o.heads;
      totalHeads += view.heads.length;
      if (view.error !== '') totalErrors++;
      // node:http answers HPE_CLOSED_CONNECTION (data after a close request) like any other parse error.
      const oracleError = o.error !== '' || (o.incomplete && !o.upgraded);
      const serverError = view.error !== '';
      if (oracleHeads !== view.heads.length || oracleError !== serverError) {
        failures.push(`oracle heads ${oracleHeads} error ${o.error || (o.incomplete ? 'incomplete' : '-')}; ` +
          `node:http heads ${view.heads.length} error ${view.error || '-'}\n  raw ${JSON.stringify(raw.toString('latin1'))}`);
      }
    };
    try {
      for (let i = 0; i < cases.length; i += 20) await Promise.all(cases.slice(i, i + 20).map(runOne));
    } finally {
      server.close();
      server.closeAllConnections();
    }
    assert.deepEqual(failures, []);
    assert.ok(totalHeads > cases.length / 2 && totalErrors > cases.length / 10, `${totalHeads} heads, ${totalErrors} errors`);
  });
});
