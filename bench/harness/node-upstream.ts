// Main thread of its own process (bench harness child). The Node fallback upstream when nginx is not installed: a
// fixed-response server, 5-byte body everywhere but /bench/16k. Run: node bench/harness/node-upstream.ts PORT

import { startFixedResponseServer } from '../../src/bench-tools/fixed-response-server.ts';
import { BODY_PATHS, LARGE_BODY_BYTES } from './configs/nginx-conf.ts';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node-upstream.ts PORT\n');
  process.exit(2);
}
await startFixedResponseServer({ port, host: '127.0.0.1', status: 200, bodyBytes: 5, pathBodies: { [BODY_PATHS.large]: LARGE_BODY_BYTES } });
process.stderr.write(`node upstream listening on 127.0.0.1:${port}\n`);
process.on('SIGTERM', () => process.exit(0));
