// Main thread of its own process (bench harness child). Opens N keep-alive connections to 127.0.0.1:PORT, sends one
// request on each and reads its answer, then holds them all open, idle, until killed. Prints "ready OPEN FAILED".
// Run: node bench/harness/idle-connections.ts PORT N PATH

import net from 'node:net';

const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const reqPath = process.argv[4] ?? '/';
/** Connections being opened at once: enough to be quick, few enough not to overflow a listen backlog. */
const IN_FLIGHT = 200;
/** A connection not answered by then counts as failed (a proxy at its connection limit leaves it in the backlog). */
const ANSWER_TIMEOUT_MS = 15_000;
const request = Buffer.from(`GET ${reqPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: legate-bench-idle\r\n\r\n`);
const held: net.Socket[] = [];
let started = 0;
let failed = 0;

/** Resolves when one whole response (Content-Length framed) has arrived on a new connection. */
function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let settled = false;
    const timer = setTimeout(() => done(false), ANSWER_TIMEOUT_MS);
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) held.push(s);
      else {
        failed++;
        s.destroy();
      }
      resolve();
    };
    s.setEncoding('latin1');
    s.once('connect', () => s.write(request));
    s.on('data', (d: string) => {
      if (settled) return;
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end));
      if (m === null || buf.length - end - 4 >= Number(m[1])) done(/^HTTP\/1\.1 2/.test(buf));
    });
    s.on('error', () => done(false));
    s.on('close', () => {
      if (!settled) done(false);
      else if (held.includes(s)) failed++; // closed by the server while idle
    });
  });
}

async function lane(): Promise<void> {
  while (started < total) {
    started++;
    await openOne();
  }
}

await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, total) }, lane));
process.stdout.write(`ready ${held.length} ${failed}\n`);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
