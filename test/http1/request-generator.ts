// Test helper (main thread of the test process). A seeded generator of HTTP/1.1 request streams for the
// differential test: mostly well-formed pipelines, with a steady share of subtle faults (framing header combos,
// chunk encodings, bare CR/LF, whitespace, control bytes, versions, methods, targets) and random byte mutations.

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (rnd: () => number, p: number): boolean => rnd() < p;
const int = (rnd: () => number, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'QUERY', 'PROPFIND', 'M-SEARCH', 'PURGE'];
const BAD_METHODS = ['get', 'FOO', 'G T', 'PRI', 'DESCRIBE', 'GET\x00', 'POST\x80', ''];
const PATH_CHARS = 'abcxyzABC019-._~!$&\'()*+,;=:@/%"<>[]\\^`{|}';
const BAD_TARGET_BYTES = ['\x00', '\x01', '\x7f', '\x80', '\xff', '\t', '\x0c', ' '];
const HOSTS = ['example.com', 'a.b', '127.0.0.1', '[::1]', 'h', 'xn--bcher-kva.example'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'];
const BAD_VERSIONS = ['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.10', 'http/1.1', 'HTTP/1', 'HTTP/1.1 ', 'HTTP /1.1', 'RTSP/1.0', 'HTTP/3.0'];
const NAMES = [
  'User-Agent', 'Accept', 'Accept-Encoding', 'Cookie', 'X-Forwarded-For', 'Content-Type', 'Authorization',
  'X-Request-Id', 'Cache-Control', 'Expect', 'TE', 'Trailer', 'Keep-Alive', 'x-custom', 'X_Under', 'a', 'Z9!#$%&*+.^`|~',
  'Content-Lengthx', 'Transfer-Encodings', 'Hostname', 'Connection-Extra',
];
const BAD_NAME_BYTES = [' ', '\t', '(', '\x00', '\x80', '"', '/', '@', '{', '\x7f'];
const VALUE_CHARS = 'abc XYZ 012 ,;=/"\'()<>@[]{}?*&%$#!~^`|\\';
const BAD_VALUE_BYTES = ['\x00', '\x01', '\x7f', '\x0b', '\x0c', '\x1b', '\r', '\n', '\x1f'];
const CONNECTION = [
  'close', 'keep-alive', 'Keep-Alive', 'upgrade', 'Upgrade', 'keep-alive, close', 'close foo', 'foo, upgrade', 'Close', '', ' close , x',
  'TE, close', 'Cookie', 'keep-alive, x-custom', 'a, Authorization', 'X-Forwarded-For', 'Content-Length, Keep-Alive',
];
const UPGRADE = ['websocket', 'h2c', '', 'h2c, websocket', 'WebSocket'];
const TE_GOOD = ['chunked', 'Chunked', ' chunked ', 'CHUNKED', 'chunked\t', ',chunked', 'chunked,', ' , chunked ,\t'];
const TE_BAD = ['gzip, chunked', 'chunked, gzip', ',', 'xchunked', 'identity', 'gzip', 'chunked;q=1', 'chunked;', 'chunked, chunked', 'chunked, ,chunked', '"chunked"', 'chunk ed', '', 'deflate,chunked'];
const CL_BAD = (n: number): string[] => [`+${n}`, `${n}, ${n}`, `${n},${n + 1}`, `${n} ${n}`, 'x', '', '99999999999999999999', `${n}.0`, `-${n}`, `0x${n}`];
const EXTS_GOOD = [';a', ';a=b', ';a="q\\"x"', ';n=1;m', ';x=""', ';long-name=tok_en', '; a', ' ;a=b', '\t; n = "v w" ;m'];
const EXTS_BAD = [';', ';a=', ';a=b c', ';=b', ';a="\x01"', ';a="b"c', ';;', ';a ', ' ', ';a=b\t'];
const TRAILERS_GOOD = ['X-Sum: 1\r\n', 'Grpc-Status: 0\r\nGrpc-Message: ok\r\n', 'Expires: never\r\n'];
const TRAILERS_BAD = ['X : y\r\n', 'X: y\n', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', 'Host: a\r\n', 'Connection: close\r\n', ' folded\r\n', 'X: \x00\r\n'];
const MUTATION_BYTES = ['\r', '\n', ' ', '\t', '\x00', ':', ',', ';', '"', '\x7f', '\x80', '0', 'a', '\r\n'];

export interface GeneratedCase {
  raw: Buffer;
  /** What the generator did, for failure reports. */
  notes: string[];
}

function randomToken(rnd: () => number, chars: string, lo: number, hi: number): string {
  let s = '';
  const n = int(rnd, lo, hi);
  for (let i = 0; i < n; i++) s += chars[Math.floor(rnd() * chars.length)];
  return s;
}

function casing(rnd: () => number, s: string): string {
  const r = rnd();
  if (r < 0.6) return s;
  if (r < 0.8) return s.toLowerCase();
  if (r < 0.9) return s.toUpperCase();
  let out = '';
  for (const c of s) out += chance(rnd, 0.5) ? c.toUpperCase() : c.toLowerCase();
  return out;
}

function target(rnd: () => number, method: string, notes: string[]): string {
  const r = rnd();
  let t: string;
  if (method === 'CONNECT' && r < 0.9) {
    t = `${pick(rnd, HOSTS)}:${chance(rnd, 0.85) ? pick(rnd, ['443', '80', '8443']) : pick(rnd, ['', 'x'])}`;
  } else if (r < 0.86) {
    t = '/' + randomToken(rnd, PATH_CHARS, 0, 24);
    if (chance(rnd, 0.3)) t += '?' + randomToken(rnd, PATH_CHARS + '?', 0, 16);
    if (chance(rnd, 0.1)) t += '#' + randomToken(rnd, PATH_CHARS + '#?', 0, 6);
  } else if (r < 0.95) {
    const userinfo = chance(rnd, 0.05) ? 'u:p@' : '';
    t = `${pick(rnd, ['http', 'https', 'HTTP', 'http', 'https', 'http', 'h2x'])}://${userinfo}${chance(rnd, 0.05) ? '' : pick(rnd, HOSTS)}` +
      `${chance(rnd, 0.5) ? ':8080' : ''}${pick(rnd, ['', '/', '/p?q', '?q', '/', '/a{b}', '#f'])}`;
  } else if (r < 0.98) {
    t = pick(rnd, ['*', '*', '*x', '*/a']);
  } else {
    t = pick(rnd, ['h:443', 'a', '//a', '', 'http:', 'http:/a', '/a b']);
  }
  if (chance(rnd, 0.02)) {
    const at = int(rnd, 0, t.length);
    t = t.slice(0, at) + pick(rnd, BAD_TARGET_BYTES) + t.slice(at);
    notes.push('bad target byte');
  }
  return t;
}

function headerLine(rnd: () => number, name: string, value: string, notes: string[]): string {
  let sep = ': ';
  const r = rnd();
  if (r < 0.1) sep = ':';
  else if (r < 0.13) sep = ':\t ';
  else if (r < 0.11) {
    sep = pick(rnd, [' : ', '\t:', ' :']);
    notes.push('whitespace before colon');
  }
  let eol = '\r\n';
  if (chance(rnd, 0.006)) {
    eol = pick(rnd, ['\n', '\r', '\r\r\n', ' \r\n', '\t\r\n']);
    notes.push(`eol ${JSON.stringify(eol)}`);
  }
  let line = name + sep + value + eol;
  if (chance(rnd, 0.004)) {
    line += pick(rnd, [' folded\r\n', '\tfolded\r\n']);
    notes.push('obs-fold');
  }
  return line;
}

function randomHeader(rnd: () => number, notes: string[]): string {
  let name = casing(rnd, chance(rnd, 0.8) ? pick(rnd, NAMES) : randomToken(rnd, 'abcdefXYZ-_019!#', 1, 12));
  if (chance(rnd, 0.01)) {
    const at = int(rnd, 0, name.length);
    name = name.slice(0, at) + pick(rnd, BAD_NAME_BYTES) + name.slice(at);
    notes.push('bad name byte');
  }
  if (chance(rnd, 0.002)) name = '';
  let value = randomToken(rnd, VALUE_CHARS, 0, 30);
  if (chance(rnd, 0.05)) value += '\xe9\xff';
  if (chance(rnd, 0.1)) value = pick(rnd, [' ', '\t', '  ']) + value + pick(rnd, [' ', '\t', ' \t', '']);
  if (chance(rnd, 0.01)) {
    const at = int(rnd, 0, value.length);
    value = value.slice(0, at) + pick(rnd, BAD_VALUE_BYTES) + value.slice(at);
    notes.push('bad value byte');
  }
  return headerLine(rnd, name, value, notes);
}

function chunkedBody(rnd: () => number, notes: string[]): string {
  let s = '';
  const n = int(rnd, 0, 3);
  for (let i = 0; i < n; i++) {
    const data = randomToken(rnd, 'abcdef\r\n0123 GET/', 1, 20);
    let size = data.length.toString(16);
    if (chance(rnd, 0.2)) size = size.toUpperCase();
    if (chance(rnd, 0.1)) size = '00' + size;
    if (chance(rnd, 0.04)) {
      size = (data.length + pick(rnd, [1, -1])).toString(16);
      notes.push('chunk size off by one');
    }
    if (chance(rnd, 0.03)) {
      size = pick(rnd, [' ' + size, size + ' ', size + '\t', '0x' + size, size + 'g', '', '-1', 'ffffffffffffffffff']);
      notes.push('bad chunk size');
    }
    let ext = '';
    if (chance(rnd, 0.15)) ext = pick(rnd, EXTS_GOOD);
    if (chance(rnd, 0.03)) {
      ext = pick(rnd, EXTS_BAD);
      notes.push('bad chunk ext');
    }
    let lineEnd = '\r\n';
    if (chance(rnd, 0.02)) {
      lineEnd = pick(rnd, ['\n', '\r', '']);
      notes.push('bad chunk line end');
    }
    let dataEnd = '\r\n';
    if (chance(rnd, 0.02)) {
      dataEnd = pick(rnd, ['\n', '', '\r', 'x\r\n']);
      notes.push('bad chunk data end');
    }
    s += size + ext + lineEnd + data + dataEnd;
  }
  s += pick(rnd, ['0', '0', '0', '000']) + (chance(rnd, 0.1) ? pick(rnd, EXTS_GOOD) : '') + '\r\n';
  if (chance(rnd, 0.2)) s += pick(rnd, TRAILERS_GOOD);
  if (chance(rnd, 0.04)) {
    s += pick(rnd, TRAILERS_BAD);
    notes.push('bad trailer');
  }
  s += chance(rnd, 0.02) ? '\n' : '\r\n';
  return s;
}

/** One request; `notes` collects the faults injected. */
function request(rnd: () => number, notes: string[]): string {
  let method = chance(rnd, 0.06) ? 'CONNECT' : pick(rnd, METHODS);
  if (chance(rnd, 0.01)) {
    method = pick(rnd, BAD_METHODS);
    notes.push(`method ${JSON.stringify(method)}`);
  }
  let version = pick(rnd, VERSIONS);
  if (chance(rnd, 0.015)) {
    version = pick(rnd, BAD_VERSIONS);
    notes.push(`version ${JSON.stringify(version)}`);
  }
  let sp1 = ' ';
  let sp2 = ' ';
  if (chance(rnd, 0.008)) {
    sp1 = pick(rnd, ['  ', '\t']);
    notes.push('request line whitespace');
  }
  if (chance(rnd, 0.008)) {
    sp2 = pick(rnd, ['  ', '\t']);
    notes.push('request line whitespace');
  }
  let line = chance(rnd, 0.005) ? `${method}${sp1}${target(rnd, method, notes)}` : `${method}${sp1}${target(rnd, method, notes)}${sp2}${version}`;
  if (!line.includes('HTTP') && !line.includes('http')) notes.push('no version');
  let eol = '\r\n';
  if (chance(rnd, 0.008)) {
    eol = pick(rnd, ['\n', '\r', '\r\r\n']);
    notes.push(`request line eol ${JSON.stringify(eol)}`);
  }
  line += eol;

  const headers: string[] = [];
  const hostCount = chance(rnd, 0.9) ? 1 : chance(rnd, 0.7) ? 0 : 2;
  for (let i = 0; i < hostCount; i++) headers.push(headerLine(rnd, casing(rnd, 'Host'), pick(rnd, HOSTS), notes));
  const extra = chance(rnd, 0.015) ? int(rnd, 95, 110) : int(rnd, 0, 6);
  for (let i = 0; i < extra; i++) headers.push(randomHeader(rnd, notes));
  if (chance(rnd, 0.2)) headers.push(headerLine(rnd, casing(rnd, 'Connection'), pick(rnd, CONNECTION), notes));
  if (chance(rnd, 0.03)) headers.push(headerLine(rnd, casing(rnd, 'Proxy-Connection'), pick(rnd, CONNECTION), notes));
  if (chance(rnd, 0.08)) {
    headers.push(headerLine(rnd, casing(rnd, 'Upgrade'), pick(rnd, UPGRADE), notes));
    if (chance(rnd, 0.7)) headers.push(headerLine(rnd, 'Connection', pick(rnd, ['upgrade', 'Upgrade', 'keep-alive, upgrade', 'upgrade x']), notes));
  }

  // Body framing.
  let body = '';
  // Tunnels and HTTP/1.0 mostly come without a body (with one they are refused: see STRICTER).
  const mode = method === 'CONNECT' || version === 'HTTP/1.0' ? rnd() * (chance(rnd, 0.85) ? 0.45 : 1) : rnd();
  const data = randomToken(rnd, 'xyz\r\n GET/HTTP1.', 0, 30);
  if (mode < 0.45) {
    // no body
  } else if (mode < 0.7) {
    let cl = String(data.length);
    if (chance(rnd, 0.1)) cl = pick(rnd, [` ${cl}`, `${cl} `, `0${cl}`, `\t${cl}\t`]);
    if (chance(rnd, 0.05)) {
      cl = pick(rnd, CL_BAD(data.length));
      notes.push(`bad CL ${JSON.stringify(cl)}`);
    }
    if (chance(rnd, 0.04)) {
      cl = String(Math.max(0, data.length + pick(rnd, [-3, -1, 1, 4])));
      notes.push('CL does not match the body');
    }
    headers.push(headerLine(rnd, casing(rnd, 'Content-Length'), cl, notes));
    if (chance(rnd, 0.04)) {
      headers.push(headerLine(rnd, casing(rnd, 'Content-Length'), chance(rnd, 0.5) ? cl : String(data.length + 1), notes));
      notes.push('duplicate CL');
    }
    body = data;
  } else if (mode < 0.92) {
    let te = pick(rnd, TE_GOOD);
    if (chance(rnd, 0.08)) {
      te = pick(rnd, TE_BAD);
      notes.push(`bad TE ${JSON.stringify(te)}`);
    }
    headers.push(headerLine(rnd, casing(rnd, 'Transfer-Encoding'), te, notes));
    if (chance(rnd, 0.03)) {
      headers.push(headerLine(rnd, 'Transfer-Encoding', pick(rnd, ['chunked', 'gzip']), notes));
      notes.push('two TE lines');
    }
    body = chunkedBody(rnd, notes);
  } else if (mode < 0.96) {
    body = '';
  } else {
    // Content-Length together with Transfer-Encoding, in either order.
    const cl = headerLine(rnd, 'Content-Length', String(data.length), notes);
    const te = headerLine(rnd, 'Transfer-Encoding', pick(rnd, ['chunked', 'gzip', 'chunked, identity']), notes);
    if (chance(rnd, 0.5)) headers.push(cl, te);
    else headers.push(te, cl);
    notes.push('CL+TE');
    body = chance(rnd, 0.5) ? data : chunkedBody(rnd, notes);
  }
  // Shuffle the fields a little, so framing headers are not always last.
  for (let i = headers.length - 1; i > 0; i--) {
    if (chance(rnd, 0.3)) {
      const j = Math.floor(rnd() * (i + 1));
      [headers[i], headers[j]] = [headers[j]!, headers[i]!];
    }
  }
  let end = '\r\n';
  if (chance(rnd, 0.008)) {
    end = pick(rnd, ['\n', '\r', ' \r\n']);
    notes.push(`head end ${JSON.stringify(end)}`);
  }
  return line + headers.join('') + end + body;
}

/** One case: 1-3 pipelined requests, maybe leading CRLFs, garbage, truncation or a random byte mutation. */
export function generateCase(rnd: () => number): GeneratedCase {
  const notes: string[] = [];
  let s = '';
  const n = chance(rnd, 0.6) ? 1 : int(rnd, 2, 3);
  for (let i = 0; i < n; i++) {
    if (chance(rnd, 0.05)) {
      s += pick(rnd, ['\r\n', '\r\n\r\n', '\n', '\r']);
      notes.push('before request line');
    }
    s += request(rnd, notes);
  }
  if (chance(rnd, 0.05)) {
    s += pick(rnd, ['garbage', '\x00', 'GET', '\r\n']);
    notes.push('trailing bytes');
  }
  if (chance(rnd, 0.08) && s.length > 1) {
    const at = int(rnd, 0, s.length - 1);
    const r = rnd();
    const byte = pick(rnd, MUTATION_BYTES);
    if (r < 0.4) s = s.slice(0, at) + byte + s.slice(at);
    else if (r < 0.7) s = s.slice(0, at) + byte + s.slice(at + 1);
    else s = s.slice(0, at) + s.slice(at + 1);
    notes.push(`mutation at ${at}`);
  }
  if (chance(rnd, 0.04)) {
    s = s.slice(0, int(rnd, 1, s.length));
    notes.push('truncated');
  }
  return { raw: Buffer.from(s, 'latin1'), notes };
}
