// Worker thread (started by startFixedResponseWorker). Runs the fixed-response upstream off the main thread, so
// the load generator and the upstream of `legate bench --upstream-port` do not share one event loop.

import { parentPort, workerData } from 'node:worker_threads';
import { startFixedResponseServer, type FixedResponseOptions, type FixedResponseWorkerMessage } from './fixed-response-server.ts';

const port = parentPort!;
startFixedResponseServer(workerData as FixedResponseOptions).then(
  (s) => port.postMessage({ type: 'listening', port: s.port } satisfies FixedResponseWorkerMessage),
  (err: NodeJS.ErrnoException) =>
    port.postMessage({ type: 'error', code: err.code ?? 'ERROR', message: err.message } satisfies FixedResponseWorkerMessage),
);
