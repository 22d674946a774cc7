// Any thread. The gRPC service of the grpc-unary scenario: one unary method on raw bytes (no protobuf codegen),
// answered by bench/harness/grpc-server.ts with a fixed message, and the gRPC-framed request body h2load POSTs.

import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';

export const GRPC_SERVICE = 'legate.bench.Bench';
export const GRPC_UNARY_PATH = `/${GRPC_SERVICE}/Unary`;
/** Request and response message size (bytes of payload, before the 5-byte gRPC frame header). */
export const GRPC_MESSAGE_BYTES = 100;

const identity = (b: Buffer): Buffer => b;

export const BENCH_SERVICE: grpc.ServiceDefinition = {
  Unary: {
    path: GRPC_UNARY_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** The fixed response message. */
export const GRPC_RESPONSE = Buffer.alloc(GRPC_MESSAGE_BYTES, 'r');

/** Writes the request as h2load sends it (`-d`): one uncompressed gRPC length-prefixed message. */
export function writeGrpcRequestBody(dir: string): string {
  const file = path.join(dir, 'grpc-unary-request.bin');
  const frame = Buffer.alloc(5 + GRPC_MESSAGE_BYTES, 'q');
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(GRPC_MESSAGE_BYTES, 1);
  fs.writeFileSync(file, frame);
  return file;
}

export class GrpcProbeError extends Error {
  override name = 'GrpcProbeError';
  readonly code = 'BENCH_GRPC_PROBE_FAILED';
}

/**
 * One real gRPC call with grpc-js to 127.0.0.1:port (the server directly or through a proxy): h2load sees only
 * HTTP statuses, so this checks once that calls end with grpc-status OK and the whole response message.
 */
export async function probeGrpc(port: number, timeoutMs = 5000): Promise<void> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(GRPC_UNARY_PATH, identity, identity, Buffer.alloc(GRPC_MESSAGE_BYTES, 'q'), { deadline: Date.now() + timeoutMs }, (err, value) =>
        err !== null || value === undefined ? reject(err ?? new Error('no reply')) : resolve(value),
      );
    });
    if (!reply.equals(GRPC_RESPONSE)) throw new GrpcProbeError(`gRPC probe on port ${port}: a ${reply.length}-byte reply, not the ${GRPC_MESSAGE_BYTES}-byte fixed message`);
  } catch (err) {
    if (err instanceof GrpcProbeError) throw err;
    const e = err as grpc.ServiceError;
    throw new GrpcProbeError(`gRPC probe on port ${port} failed: code ${e.code} ${e.details ?? e.message}`);
  } finally {
    client.close();
  }
}
