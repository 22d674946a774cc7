// Worker thread. Opens the connection to one upstream host: plain TCP, or TLS with the cluster's transport socket
// (an UpstreamTlsContext compiled on the primary, built once per cluster per worker as a ClientTlsContext). Every
// upstream connection of every pool goes through here, so what "connected" means is the same for all of them.

import net from 'node:net';
import tls from 'node:tls';
import { TlsPeerRejectedError, type ClientTlsContext } from '../../src/tls/client-tls-context.ts';
import type { UpstreamHost } from './upstream-host.ts';

/**
 * A new connection to `host`, connecting. Called on the worker thread by a pool, once per new connection.
 * - `tls` null: a net.Socket, ready on 'connect'.
 * - `tls` set: a tls.TLSSocket, ready on 'secureConnect' once the peer passed every check (chain against
 *   trusted_ca, SANs, pins). A refused handshake or peer emits 'error' (then 'close') instead:
 *   tlsFailureReasonOf(err) names its ssl.* counter, tlsTransportFailureReason(err) the access log's reason
 *   (src/tls/client-tls-context.ts). A 'secureConnect' listener the caller adds runs after the peer checks and
 *   must do nothing when the socket is already destroyed.
 * `alpn` replaces the context's alpn_protocols when non-null (an HTTP/2 pool passes ['h2']); the protocol chosen
 * is `socket.alpnProtocol` after 'secureConnect'. The socket can be handed to node:http2 (createConnection).
 */
export function connectUpstream(host: UpstreamHost, tlsContext: ClientTlsContext | null, alpn: readonly string[] | null): net.Socket {
  if (tlsContext === null) return net.connect({ host: host.address, port: host.port, noDelay: true });
  const socket = tls.connect(tlsContext.connectOptions(host.address, host.port, alpn));
  socket.setNoDelay(true);
  // Runs before any listener the caller adds: checks Node cannot make itself (pins without trusted_ca).
  socket.once('secureConnect', () => {
    const reason = tlsContext.verifyPeer(socket);
    if (reason !== null) socket.destroy(new TlsPeerRejectedError(reason, `upstream ${host.addressString}`));
  });
  return socket;
}
