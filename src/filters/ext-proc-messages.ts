// Any thread (pure; the types load once per thread, at config time). envoy.service.ext_proc.v3's ProcessingRequest
// and ProcessingResponse as protobufjs types from Envoy's own protos (the config loader's schema).

import type { Type } from 'protobufjs';
import { protoSchema } from '../config-loader/proto-schema.ts';
import type { HeaderList } from '../http/stream-info.ts';

export const EXTERNAL_PROCESSOR_METHOD = 'envoy.service.ext_proc.v3.ExternalProcessor/Process';

export interface ExtProcMessageTypes {
  readonly request: Type;
  readonly response: Type;
}

let types: ExtProcMessageTypes | null = null;

export function extProcMessageTypes(): ExtProcMessageTypes {
  if (types !== null) return types;
  const schema = protoSchema();
  const req = schema.lookupMessage('envoy.service.ext_proc.v3.ProcessingRequest');
  const res = schema.lookupMessage('envoy.service.ext_proc.v3.ProcessingResponse');
  if (req === undefined || res === undefined) throw new Error('envoy.service.ext_proc.v3 protos are missing from the bundled Envoy API');
  types = Object.freeze({ request: req.type, response: res.type });
  return types;
}

/** A HeaderMap (values as raw_value, as Envoy sends them by default) from pseudo-headers and a header list. */
export function headerMapOf(pseudo: readonly string[], headers: HeaderList): { headers: { key: string; raw_value: Buffer }[] } {
  const out: { key: string; raw_value: Buffer }[] = [];
  for (let i = 0; i < pseudo.length; i += 2) out.push({ key: pseudo[i]!, raw_value: Buffer.from(pseudo[i + 1]!, 'latin1') });
  for (let i = 0; i < headers.length; i += 2) out.push({ key: headers[i]!, raw_value: Buffer.from(headers[i + 1]!, 'latin1') });
  return { headers: out };
}

export function encodeProcessingRequest(t: ExtProcMessageTypes, request: Record<string, unknown>): Uint8Array {
  return t.request.encode(t.request.fromObject(request)).finish();
}

export function decodeProcessingResponse(t: ExtProcMessageTypes, bytes: Buffer): Record<string, unknown> {
  return t.response.toObject(t.response.decode(bytes), { longs: Number, enums: Number, bytes: Buffer, oneofs: true }) as Record<string, unknown>;
}
