// Main thread of its own process (bench harness child, pinned to the load CPU). One autocannon run with every
// latency recorded in µs; prints the LoadResult as one JSON line on stdout.
// Run: node bench/harness/autocannon-load.ts '{"url":…,"connections":50,"durationS":4,"keepAlive":true}'

import { runLoad } from '../../src/bench-tools/load-run.ts';

interface ChildSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly keepAlive: boolean;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const result = await runLoad({
  url: spec.url,
  connections: spec.connections,
  durationS: spec.durationS,
  pipelining: 1,
  rate: 0,
  method: 'GET',
  // New connection per request: the server closes after each answer and autocannon reconnects.
  headers: spec.keepAlive ? {} : { connection: 'close' },
  body: undefined,
  timeoutS: 10,
});
process.stdout.write(JSON.stringify(result) + '\n');
