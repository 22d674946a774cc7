// Worker thread. Opens the connection to one upstream host: plain TCP, or TLS with the cluster's transport socket
// (an UpstreamTlsContext compiled on the primary, built once per cluster per worker as a ClientTlsContext). Every
// upstream connection of every pool goes through here, so what "connected" means is the same for all of them, and
// so does what "reset" means (resetSocket).

import net from 'node:net';
import tls from 'node:tls';
import { TlsPeerRejectedError, type ClientTlsContext } from '../../src/tls/client-tls-context.ts';
import type { UpstreamHost } from './upstream-host.ts';

/** TLS connections and the TCP socket under each (kept so a TLS connection can be reset: resetSocket). */
const tcpUnderTls = new WeakMap<net.Socket, net.Socket>();

/**
 * A new connection to `host`, connecting. Called on the worker thread by a pool, once per new connection.
 * - `tls` null: a net.Socket, ready on 'connect'.
 * - `tls` set: a tls.TLSSocket, ready on 'secureConnect' once the peer passed every check (chain against
 *   trusted_ca, SANs, pins). A refused handshake or peer emits 'error' (then 'close') instead:
 *   tlsFailureReasonOf(err) names its ssl.* counter, tlsTransportFailureReason(err) the access log's reason
 *   (src/tls/client-tls-context.ts). A 'secureConnect' listener the caller adds runs after the peer checks and
 *   must do nothing when the socket is already destroyed. TLS runs over a net.Socket made here (it still emits
 *   'connect' when TCP is up, and the TCP socket's errors), so that resetSocket can reach the TCP connection.
 * `alpn` replaces the context's alpn_protocols when non-null (an HTTP/2 pool passes ['h2']); the protocol chosen
 * is `socket.alpnProtocol` after 'secureConnect'. The socket can be handed to node:http2 (createConnection).
 */
export function connectUpstream(host: UpstreamHost, tlsContext: ClientTlsContext | null, alpn: readonly string[] | null): net.Socket {
  if (tlsContext === null) return net.connect({ host: host.address, port: host.port, noDelay: true });
  const tcp = net.connect({ host: host.address, port: host.port, noDelay: true });
  // The TLS socket reports the TCP socket's errors; this one must not throw them a second time.
  tcp.on('error', ignoreError);
  const options = tlsContext.connectOptions(host.address, host.port, alpn);
  options.socket = tcp;
  if (host.dynamicTlsName !== '') nameDynamicHost(options, host.dynamicTlsName);
  const socket = tls.connect(options);
  tcpUnderTls.set(socket, tcp);
  // Runs before any listener the caller adds: checks Node cannot make itself (pins without trusted_ca).
  socket.once('secureConnect', () => {
    const reason = tlsContext.verifyPeer(socket);
    if (reason !== null) socket.destroy(new TlsPeerRejectedError(reason, `upstream ${host.addressString}`));
  });
  return socket;
}

/**
 * A dynamic forward proxy host: SNI is the request's host name (never an IP, as Envoy), and with a CA to verify
 * against, the certificate must also match that host (Envoy's automatic SAN verification for the DFP cluster).
 */
function nameDynamicHost(options: tls.ConnectionOptions, name: string): void {
  if (net.isIP(name) === 0) options.servername = name;
  if (options.rejectUnauthorized !== true) return;
  const checkCluster = options.checkServerIdentity;
  options.checkServerIdentity = (hostname, cert) => tls.checkServerIdentity(name, cert) ?? checkCluster?.(hostname, cert);
}

/**
 * Closes a connection with a TCP RST instead of a FIN: whatever is still buffered is dropped and the peer reads
 * ECONNRESET, so it cannot take a request (or response) cut short for a complete one. For a TLS connection made by
 * connectUpstream the TCP socket under it is reset (the TLS socket closes with it). A socket still connecting, or
 * a TLS socket this module did not make (accepted ones), is destroyed: nothing of a message went out on the
 * former, and the latter has no reachable TCP handle (its peer still sees the connection end without
 * close_notify, which TLS stacks report as a truncation). 'close' follows as after destroy().
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  const tcp = tcpUnderTls.get(socket);
  const target = tcp ?? socket;
  if (target.destroyed || target.connecting || (tcp === undefined && socket instanceof tls.TLSSocket)) {
    socket.destroy();
    return;
  }
  target.resetAndDestroy();
  // The TLS socket over it closes when its TCP socket does; destroying it now as well keeps the order of events
  // the same as destroy() (no reads or writes after this call).
  if (tcp !== undefined) socket.destroy();
}

function ignoreError(): void {}
