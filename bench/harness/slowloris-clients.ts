// Main thread of its own process (bench/slowloris.ts child). Opens N connections to 127.0.0.1:PORT, each sending
// the start of a request head and never the rest (slowloris; all heads sent together once every connection is
// open), then waits. Prints "ready OPEN FAILED" once all are
// open, then "cut FIRST_MS LAST_MS CLOSED" (wall-clock ms of the first and last close by the server) once every
// open one was closed, or when killed. MODE "head" sends a partial head, "idle" nothing at all.
// Run: node bench/harness/slowloris-clients.ts PORT N [head|idle]

import net from 'node:net';

const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const mode = process.argv[4] ?? 'head';
/** Connections being opened at once: enough to be quick, few enough not to overflow a listen backlog. */
const IN_FLIGHT = 256;
const partial = Buffer.from(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: legate-bench-slowloris\r\nX-a: `);
let started = 0;
let open = 0;
let failed = 0;
let closed = 0;
let firstClose = 0;
let lastClose = 0;
let ready = false;
const sockets: net.Socket[] = [];

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let connected = false;
    s.once('connect', () => {
      connected = true;
      open++;
      sockets.push(s);
      resolve();
    });
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => {
      if (!connected) {
        failed++;
        resolve();
        return;
      }
      const now = Date.now();
      if (closed === 0) firstClose = now;
      lastClose = now;
      closed++;
      if (ready && closed === open) report();
    });
  });
}

function report(): void {
  process.stdout.write(`cut ${firstClose} ${lastClose} ${closed}\n`);
}

async function lane(): Promise<void> {
  while (started < total) {
    started++;
    await openOne();
  }
}

await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, total) }, lane));
// Every partial head at once, so that the proxy's request_headers_timeout timers are armed (and fire) together.
if (mode === 'head') for (const s of sockets) s.write(partial);
ready = true;
process.stdout.write(`ready ${open} ${failed}\n`);
process.on('SIGTERM', () => {
  report();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
