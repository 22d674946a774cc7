// Test support: a grpc-js server for one of Envoy's own gRPC services (envoy.service.auth.v3.Authorization,
// envoy.service.ext_proc.v3.ExternalProcessor, ...), loaded from the protos @grpc/grpc-js-xds ships (no codegen), on
// 127.0.0.1 port 0. Messages keep Envoy's field names (keepCase), enums as strings, oneofs named.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface EnvoyGrpcService {
  port: number;
  server: grpc.Server;
}

/** Loads `protoFile` (e.g. 'envoy/service/auth/v3/external_auth.proto') and its imports from the xDS protos. */
function loadEnvoyProto(protoFile: string): grpc.GrpcObject {
  const require = createRequire(import.meta.url);
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const def = protoLoader.loadSync(protoFile, {
    keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d)),
  });
  return grpc.loadPackageDefinition(def);
}

/**
 * Serves `service` (its full name, e.g. 'envoy.service.auth.v3.Authorization') from `protoFile` with `handlers`
 * (grpc-js method implementations by method name); resolves once the server is bound.
 */
export async function startEnvoyGrpcService(protoFile: string, service: string, handlers: grpc.UntypedServiceImplementation): Promise<EnvoyGrpcService> {
  let node: unknown = loadEnvoyProto(protoFile);
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  const definition = (node as { service: grpc.ServiceDefinition }).service;
  const server = new grpc.Server();
  server.addService(definition, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, server };
}
