// Worker thread. Turns an accepted socket into a node:http2 server session with one connection manager's HTTP/2
// settings. One per connection-manager runtime; node:http2's server object is only the session factory here (its
// request events are not used: Http2Connection listens on each session).

import http2 from 'node:http2';
import type net from 'node:net';
import type { Http2Settings } from '../../src/snapshot/snapshot-types.ts';

export class Http2Acceptor {
  private readonly server: http2.Http2Server;
  private lastSession: http2.ServerHttp2Session | null;

  constructor(settings: Http2Settings, maxHeadersCount: number, maxHeaderListBytes: number) {
    this.lastSession = null;
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: settings.maxConcurrentStreams,
        initialWindowSize: settings.initialStreamWindowSize,
        maxHeaderListSize: maxHeaderListBytes,
        headerTableSize: settings.hpackTableSize,
        enablePush: false,
      },
      // The pseudo-headers count as pairs to node:http2.
      maxHeaderListPairs: maxHeadersCount + 5,
      // node:http2 counts invalid frames over the session's life, empty DATA frames and streams refused for going
      // over max_concurrent_streams alike, so Envoy's consecutive-empty-frame limit cannot map onto it: the
      // session closes after node's budget of 1000 (or the configured limit, if larger).
      maxSessionInvalidFrames: Math.max(1000, settings.maxConsecutiveInboundFramesWithEmptyPayload),
      // Streams refused for going over max_concurrent_streams before the session is closed (ENHANCE_YOUR_CALM).
      maxSessionRejectedStreams: Math.max(100, settings.maxConcurrentStreams),
      // Buffered outbound bytes per session, in MiB, before node:http2 refuses new streams.
      maxSessionMemory: 64,
    });
    this.server.setTimeout(0);
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      this.lastSession = session;
    });
  }

  /** The session for `socket`; bytes already read from it (codec detection) must have been unshift()ed. */
  accept(socket: net.Socket): http2.ServerHttp2Session {
    this.lastSession = null;
    this.server.emit('connection', socket);
    const session = this.lastSession as http2.ServerHttp2Session | null;
    if (session === null) throw new Error('node:http2 did not open a session for the connection');
    this.lastSession = null;
    return session;
  }
}
