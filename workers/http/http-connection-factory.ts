// Worker thread. Starts the HTTP connection for an accepted socket in the protocol codec_type asks for: HTTP1,
// HTTP2, or AUTO — ALPN decides under TLS ("h2" or not); on plain TCP an HTTP/1.1 connection starts at once and
// hands itself over to HTTP/2 if its first bytes are the client preface (h2c prior knowledge), so the common
// HTTP/1.1 case pays nothing for the detection.

import type net from 'node:net';
import { CodecType } from '../../src/snapshot/snapshot-types.ts';
import type { HcmConnectionOwner, ListenerConnection } from '../listener/filter-chain-runtime.ts';
import { DownstreamConnection } from './downstream-connection.ts';
import { Http2Connection } from './http2-connection.ts';

/** The connection the listener tracks for `socket`, accepted on the chain `owner` serves. */
export function startHttpConnection(socket: net.Socket, owner: HcmConnectionOwner): ListenerConnection {
  const codec = owner.hcm.config.codecType;
  if (codec === CodecType.HTTP1) return new DownstreamConnection(socket, owner);
  if (codec === CodecType.HTTP2) return new Http2Connection(socket, owner);
  if ((socket as { encrypted?: boolean }).encrypted === true) {
    const alpn = (socket as { alpnProtocol?: string | false }).alpnProtocol;
    return alpn === 'h2' ? new Http2Connection(socket, owner) : new DownstreamConnection(socket, owner);
  }
  return new DownstreamConnection(socket, owner, true);
}
