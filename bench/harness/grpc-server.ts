// Main thread of its own process (bench harness child, pinned with the upstream). The gRPC server of the
// grpc-unary scenario: @grpc/grpc-js, one unary method answering a fixed 100-byte message.
// Run: node bench/harness/grpc-server.ts PORT

import * as grpc from '@grpc/grpc-js';
import { BENCH_SERVICE, GRPC_RESPONSE } from './grpc-bench-service.ts';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: grpc-server.ts PORT\n');
  process.exit(2);
}
const server = new grpc.Server();
server.addService(BENCH_SERVICE, {
  Unary: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, GRPC_RESPONSE),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err !== null) {
    process.stderr.write(`grpc server: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`grpc server listening on 127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
