// Any thread. The application log: a small leveled logger writing whole lines to stderr, or to --log-path (each
// thread holds its own O_APPEND descriptor, reopened on SIGUSR1), laid out by Envoy's --log-format (spdlog's
// pattern flags), compiled once per thread by configureLogger.

import { threadId } from 'node:worker_threads';
import fs from 'node:fs';

const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5, off: 6 } as const;
export type Level = keyof typeof LEVELS;

/** spdlog's level names (%l) and short names (%L), in LEVELS order. */
const LEVEL_NAMES: readonly string[] = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'];
const LEVEL_SHORT: readonly string[] = ['T', 'D', 'I', 'W', 'E', 'C', 'O'];

/** Envoy's default --log-format. */
export const DEFAULT_LOG_FORMAT = '[%Y-%m-%d %T.%e][%t][%l][%n] %v';

/**
 * Envoy's logger ids (ALL_LOGGER_IDS), the names --component-log-level takes. Most of Legate's lines are of "main";
 * the connection and stream traces are of Envoy's components (componentLogger below: connection, conn_handler,
 * http, pool, router), each at its own level.
 */
export const COMPONENT_NAMES: ReadonlySet<string> = new Set([
  'admin', 'alternate_protocols_cache', 'aws', 'assert', 'backtrace', 'basic_auth', 'cache_filter', 'client', 'config',
  'connection', 'conn_handler', 'credential_injector', 'decompression', 'dns', 'dubbo', 'envoy_bug', 'ext_authz',
  'ext_proc', 'rocketmq', 'file', 'filter', 'forward_proxy', 'geolocation', 'grpc', 'happy_eyeballs', 'hc',
  'health_checker', 'http', 'http2', 'http3', 'hystrix', 'init', 'io', 'jwt', 'kafka', 'key_value_store', 'lua', 'main',
  'matcher', 'misc', 'mongo', 'multi_connection', 'oauth2', 'quic', 'quic_stream', 'pool', 'rate_limit_quota', 'rbac',
  'rds', 'redis', 'router', 'runtime', 'stats', 'secret', 'tap', 'testing', 'thrift', 'tracing', 'upstream', 'udp',
  'wasm', 'websocket', 'golang',
]);
const COMPONENT = 'main';

/** A --log-level / --component-log-level word: Envoy's names, "warning" and "warn" both; any case. */
export function parseLogLevel(v: string): Level | undefined {
  const l = v.toLowerCase();
  if (l === 'warning') return 'warn';
  return Object.prototype.hasOwnProperty.call(LEVELS, l) ? (l as Level) : undefined;
}

/** The application log's layout: an spdlog pattern, or application_log_config's json_format (a Struct). */
export type LogFormatSpec = { kind: 'text'; pattern: string } | { kind: 'json'; struct: Record<string, unknown> };

/** How a thread logs: plain data, sent to every worker in WorkerInit. */
export interface LogSettings {
  level: Level;
  componentLevels: [string, Level][];
  format: LogFormatSpec;
  /** --log-format-escaped: C-style escapes in each line (so a line never spans lines). */
  escaped: boolean;
  /** --log-path; undefined writes to stderr. */
  path: string | undefined;
}

export class LogFormatError extends Error {
  override name = 'LogFormatError';
}

// ---- the compiled format ------------------------------------------------------------------------------------

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_FULL = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_FULL = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** One line's inputs, filled once per line. */
class LineContext {
  level = 0;
  /** The logger id (%n): "main", or a componentLogger's name. */
  component = COMPONENT;
  msg = '';
  /** Wall clock in ms, with sub-ms precision. */
  nowMs = 0;
  date = new Date(0);
  sincePrevMs = 0;
}

type Part = (c: LineContext) => string;

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
function offset(d: Date): string {
  const m = -d.getTimezoneOffset();
  const a = Math.abs(m);
  return `${m < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}
function hour12(d: Date): number {
  const h = d.getHours() % 12;
  return h === 0 ? 12 : h;
}
function jsonEscape(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** spdlog's flags (and Envoy's %_ and %j); undefined for an unknown flag, which spdlog prints as written. */
function flagPart(flag: string): Part | undefined {
  switch (flag) {
    case 'v': return (c) => c.msg;
    case '_': return (c) => c.msg.replace(/\n/g, '\\n');
    case 'j': return (c) => jsonEscape(c.msg);
    case '+': return (c) => jsonEscape(c.msg); // Envoy: the message without its tags (Legate's lines carry none)
    case '*': return () => ''; // Envoy: the extracted tags
    case 't': return () => String(threadId);
    case 'P': return () => String(process.pid);
    case 'n': return (c) => c.component;
    case 'l': return (c) => LEVEL_NAMES[c.level]!;
    case 'L': return (c) => LEVEL_SHORT[c.level]!;
    case 'a': return (c) => WEEKDAYS[c.date.getDay()]!;
    case 'A': return (c) => WEEKDAYS_FULL[c.date.getDay()]!;
    case 'b':
    case 'h': return (c) => MONTHS[c.date.getMonth()]!;
    case 'B': return (c) => MONTHS_FULL[c.date.getMonth()]!;
    case 'c': return (c) => {
      const d = c.date;
      return `${WEEKDAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
    };
    case 'C': return (c) => p2(c.date.getFullYear() % 100);
    case 'Y': return (c) => String(c.date.getFullYear());
    case 'D':
    case 'x': return (c) => `${p2(c.date.getMonth() + 1)}/${p2(c.date.getDate())}/${p2(c.date.getFullYear() % 100)}`;
    case 'm': return (c) => p2(c.date.getMonth() + 1);
    case 'd': return (c) => p2(c.date.getDate());
    case 'H': return (c) => p2(c.date.getHours());
    case 'I': return (c) => p2(hour12(c.date));
    case 'M': return (c) => p2(c.date.getMinutes());
    case 'S': return (c) => p2(c.date.getSeconds());
    case 'e': return (c) => pad(c.date.getMilliseconds(), 3);
    case 'f': return (c) => pad(Math.floor((c.nowMs % 1000) * 1000), 6);
    case 'F': return (c) => pad(Math.floor((c.nowMs % 1000) * 1000) * 1000, 9);
    case 'p': return (c) => (c.date.getHours() < 12 ? 'AM' : 'PM');
    case 'r': return (c) => `${p2(hour12(c.date))}:${p2(c.date.getMinutes())}:${p2(c.date.getSeconds())} ${c.date.getHours() < 12 ? 'AM' : 'PM'}`;
    case 'R': return (c) => `${p2(c.date.getHours())}:${p2(c.date.getMinutes())}`;
    case 'T':
    case 'X': return (c) => `${p2(c.date.getHours())}:${p2(c.date.getMinutes())}:${p2(c.date.getSeconds())}`;
    case 'z': return (c) => offset(c.date);
    case 'E': return (c) => String(Math.floor(c.nowMs / 1000));
    case 'o': return (c) => String(Math.floor(c.sincePrevMs));
    case 'i': return (c) => String(Math.floor(c.sincePrevMs * 1000));
    case 'u': return (c) => String(Math.floor(c.sincePrevMs * 1e6));
    case 'O': return (c) => String(Math.floor(c.sincePrevMs / 1000));
    // Source locations (%@ %s %g %# %!) and colour ranges (%^ %$): Legate's lines have none.
    case '@': case 's': case 'g': case '#': case '!': case '^': case '$':
      return () => '';
    default:
      return undefined;
  }
}

/** spdlog's padding: %<width>flag right-aligns, %-<width> left, %=<width> centres; a trailing ! truncates. */
function padded(part: Part, align: string, width: number, truncate: boolean): Part {
  return (c) => {
    let s = part(c);
    if (s.length >= width) return truncate ? s.slice(0, width) : s;
    const fill = width - s.length;
    if (align === '-') s = s + ' '.repeat(fill);
    else if (align === '=') s = ' '.repeat(Math.floor(fill / 2)) + s + ' '.repeat(fill - Math.floor(fill / 2));
    else s = ' '.repeat(fill) + s;
    return s;
  };
}

/** Compiles an spdlog pattern into parts (done once per thread, never per line). */
export function compilePattern(pattern: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  const flushLiteral = (): void => {
    if (literal === '') return;
    const text = literal;
    parts.push(() => text);
    literal = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch !== '%' || i === pattern.length - 1) {
      literal += ch;
      continue;
    }
    const m = /^([-=]?)(\d*)(!?)(.)/su.exec(pattern.slice(i + 1));
    if (m === null) {
      literal += ch;
      continue;
    }
    const [whole, align, digits, bang, flag] = m as unknown as [string, string, string, string, string];
    i += whole.length;
    if (flag === '%') {
      literal += '%';
      continue;
    }
    const part = flagPart(flag);
    if (part === undefined) {
      literal += `%${flag}`;
      continue;
    }
    flushLiteral();
    parts.push(digits === '' ? part : padded(part, align, Math.min(Number(digits), 128), bang === '!'));
  }
  flushLiteral();
  return parts;
}

/**
 * The pattern a LogFormatSpec stands for. json_format, as Envoy: the Struct as JSON text whose string values are
 * patterns; %v and %_ are refused there (use %j, the JSON-escaped message).
 */
export function patternOf(spec: LogFormatSpec): string {
  if (spec.kind === 'text') return spec.pattern;
  const text = JSON.stringify(spec.struct);
  if (/%[-=]?\d*!?v/.test(text)) throw new LogFormatError('Usage of %v is unavailable for JSON log formats (use %j)');
  if (/%[-=]?\d*!?_/.test(text)) throw new LogFormatError('Usage of %_ is unavailable for JSON log formats (use %j)');
  return text;
}

/** absl::CEscape of a line, its trailing whitespace (the newline) kept as is: Envoy's --log-format-escaped. */
export function escapeLogLine(line: string): string {
  let end = line.length;
  while (end > 0 && /[ \t\n\r\v\f]/.test(line[end - 1]!)) end--;
  let out = '';
  const bytes = Buffer.from(line.slice(0, end), 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    switch (b) {
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x22: out += '\\"'; break;
      case 0x27: out += "\\'"; break;
      case 0x5c: out += '\\\\'; break;
      default:
        out += b < 0x20 || b >= 0x7f ? `\\${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b);
    }
  }
  return out + line.slice(end);
}

// ---- this thread's logger -----------------------------------------------------------------------------------

let threshold: number = LEVELS.info;
let parts: Part[] = compilePattern(DEFAULT_LOG_FORMAT);
let escaped = false;
let fd = 2;
let logPath: string | undefined;
let prevMs = 0;
const ctx = new LineContext();

export function setLogLevel(level: Level): void {
  threshold = LEVELS[level];
  // /logging?level=: every logger, the components too.
  componentBase = LEVELS[level];
  componentOverrides = new Map();
  refreshComponentLoggers();
}

export function logEnabled(level: Level): boolean {
  return LEVELS[level] >= threshold;
}

/**
 * Applies `settings` to this thread's logger: level (a --component-log-level entry for "main" wins), compiled
 * format, and the file of --log-path (opened for append). Throws LogFormatError for a bad json_format and the
 * open error for a file that cannot be opened; the logger is unchanged then.
 */
export function configureLogger(settings: LogSettings): void {
  const compiled = compilePattern(patternOf(settings.format));
  let newFd = 2;
  if (settings.path !== undefined) newFd = fs.openSync(settings.path, 'a', 0o644);
  let level: Level = settings.level;
  for (const [component, l] of settings.componentLevels) if (component === COMPONENT) level = l;
  componentBase = LEVELS[settings.level];
  componentOverrides = new Map(settings.componentLevels.map(([c, l]) => [c, LEVELS[l]] as const));
  refreshComponentLoggers();
  const oldFd = fd;
  threshold = LEVELS[level];
  parts = compiled;
  escaped = settings.escaped;
  fd = newFd;
  logPath = settings.path;
  if (oldFd !== 2 && oldFd !== newFd) closeQuietly(oldFd);
}

/**
 * SIGUSR1 (log rotation): reopens this thread's --log-path file, so lines go to a new file at that path once the
 * old one was renamed. On failure the old descriptor stays and the failure is logged there. No-op on stderr.
 */
export function reopenLogFile(): void {
  if (logPath === undefined) return;
  let newFd: number;
  try {
    newFd = fs.openSync(logPath, 'a', 0o644);
  } catch (err) {
    write('error', `cannot reopen the log file ${logPath}: ${(err as Error).message}; logging on to the old one`);
    return;
  }
  const old = fd;
  fd = newFd;
  closeQuietly(old);
}

function closeQuietly(f: number): void {
  try {
    fs.closeSync(f);
  } catch {
    // Already closed: nothing to do.
  }
}

function format(levelIndex: number, msg: string, component: string = COMPONENT): string {
  const c = ctx;
  const now = performance.timeOrigin + performance.now();
  c.level = levelIndex;
  c.component = component;
  c.msg = msg;
  c.nowMs = now;
  c.date = new Date(Math.floor(now));
  c.sincePrevMs = prevMs === 0 ? 0 : now - prevMs;
  prevMs = now;
  let line = '';
  for (let i = 0; i < parts.length; i++) line += parts[i]!(c);
  return escaped ? escapeLogLine(line) : line;
}

/** One line as this thread's format lays it out (for tests and for lines written elsewhere). */
export function formatLogLine(level: Level, msg: string): string {
  return format(LEVELS[level], msg);
}

function write(level: Level, msg: string): void {
  const n = LEVELS[level];
  if (n < threshold) return;
  writeLine(n, msg, COMPONENT);
}

function writeLine(n: number, msg: string, component: string): void {
  let line: string;
  try {
    line = `${format(n, msg, component)}\n`;
  } catch {
    line = `[${LEVEL_NAMES[n]}] ${msg}\n`;
  }
  // Whole-line synchronous write: lines from several threads never interleave mid-line (each thread's file
  // descriptor is O_APPEND), and a worker's log does not go through the main thread. Logs are not on the
  // request path.
  try {
    fs.writeSync(fd, line);
  } catch {
    // stderr or the file gone (EPIPE/EAGAIN/ENOSPC): logging must never take the process down.
  }
}

export const log = {
  trace: (m: string) => write('trace', m),
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
  critical: (m: string) => write('critical', m),
};

// ---- component loggers -------------------------------------------------------------------------------------

let componentBase: number = LEVELS.info;
let componentOverrides: Map<string, number> = new Map();
const componentLoggers = new Map<string, ComponentLogger>();

/**
 * One of Envoy's logger ids (connection, conn_handler, http, pool, router), at its own level: --log-level, or its
 * --component-log-level entry. Call sites on the data path test a plain field first, so that nothing (no string,
 * no closure) is built when the level is off:
 *
 *   if (connectionLog.debug) connectionLog.log('debug', `[C${id}] closing socket: 0`);
 *
 * The fields change only when the levels do (configureLogger, setLogLevel), on the thread that owns them.
 */
export class ComponentLogger {
  readonly name: string;
  /** Lines at trace are written. */
  trace: boolean;
  /** Lines at debug are written. */
  debug: boolean;
  private threshold: number;

  constructor(name: string) {
    this.name = name;
    this.trace = false;
    this.debug = false;
    this.threshold = LEVELS.info;
    this.refresh();
  }

  refresh(): void {
    const t = componentOverrides.get(this.name) ?? componentBase;
    this.threshold = t;
    this.trace = t <= LEVELS.trace;
    this.debug = t <= LEVELS.debug;
  }

  enabled(level: Level): boolean {
    return LEVELS[level] >= this.threshold;
  }

  /** One line of this logger (%n is its name), when `level` is on. */
  log(level: Level, msg: string): void {
    const n = LEVELS[level];
    if (n >= this.threshold) writeLine(n, msg, this.name);
  }
}

/** This thread's logger for Envoy logger id `name` (one per name; COMPONENT_NAMES lists the ids). */
export function componentLogger(name: string): ComponentLogger {
  let l = componentLoggers.get(name);
  if (l === undefined) {
    l = new ComponentLogger(name);
    componentLoggers.set(name, l);
  }
  return l;
}

function refreshComponentLoggers(): void {
  for (const l of componentLoggers.values()) l.refresh();
}
