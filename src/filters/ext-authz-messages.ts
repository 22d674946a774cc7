// Any thread (pure; the types load once per thread, at config time). envoy.service.auth.v3's CheckRequest and
// CheckResponse as protobufjs types from Envoy's own protos (the config loader's schema), for the gRPC ext_authz
// client: build and encode a request, decode a response into plain data.

import type { Type } from 'protobufjs';
import { protoSchema } from '../config-loader/proto-schema.ts';

export const AUTHORIZATION_CHECK_METHOD = 'envoy.service.auth.v3.Authorization/Check';

export interface AuthMessageTypes {
  readonly checkRequest: Type;
  readonly checkResponse: Type;
}

let types: AuthMessageTypes | null = null;

/** The two message types (loading envoy/service/auth/v3/external_auth.proto into this thread's schema once). */
export function authMessageTypes(): AuthMessageTypes {
  if (types !== null) return types;
  const schema = protoSchema();
  const req = schema.lookupMessage('envoy.service.auth.v3.CheckRequest');
  const res = schema.lookupMessage('envoy.service.auth.v3.CheckResponse');
  if (req === undefined || res === undefined) throw new Error('envoy.service.auth.v3 protos are missing from the bundled Envoy API');
  types = Object.freeze({ checkRequest: req.type, checkResponse: res.type });
  return types;
}

/** An "ip:port" / "[ip]:port" address as an envoy.config.core.v3.Address (plain object). */
export function socketAddressOf(address: string): Record<string, unknown> | undefined {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let ip = address.slice(0, colon);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const port = Number(address.slice(colon + 1));
  return { socket_address: { address: ip, port_value: Number.isFinite(port) ? port : 0 } };
}

/** Encodes a CheckRequest given as a plain object (snake_case field names). */
export function encodeCheckRequest(t: AuthMessageTypes, request: Record<string, unknown>): Uint8Array {
  return t.checkRequest.encode(t.checkRequest.fromObject(request)).finish();
}

/** A decoded CheckResponse as plain data (enums and int64 as numbers); throws on malformed bytes. */
export function decodeCheckResponse(t: AuthMessageTypes, bytes: Buffer): Record<string, unknown> {
  return t.checkResponse.toObject(t.checkResponse.decode(bytes), { longs: Number, enums: Number, bytes: Buffer }) as Record<string, unknown>;
}
