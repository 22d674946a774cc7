// Worker thread, shared by the downstream HTTP/2 connection and the upstream HTTP/2 pool.
// Http2ProtocolOptions.connection_keepalive for one HTTP/2 session: a PING every `interval` (less up to
// interval_jitter percent), and the session is closed when the ACK does not come within `timeout` (Envoy's
// keepalive; counted by the caller as http2.keepalive_timeout).

import type { Http2Keepalive } from '../../src/snapshot/snapshot-types.ts';

/** What keepalive needs of a session: node:http2's sessions (upstream) and Legate's server codec (downstream). */
export interface PingableSession {
  readonly destroyed: boolean;
  readonly closed: boolean;
  /** Sends a PING; the callback runs on its ACK, or with an error when the session goes away first. */
  ping(callback: (err: Error | null) => void): boolean;
}

export class Http2KeepaliveTimer {
  private readonly session: PingableSession;
  private readonly settings: Http2Keepalive;
  private readonly onTimeout: () => void;
  private timer: NodeJS.Timeout | null;
  private stopped: boolean;

  constructor(session: PingableSession, settings: Http2Keepalive, onTimeout: () => void) {
    this.session = session;
    this.settings = settings;
    this.onTimeout = onTimeout;
    this.timer = null;
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    const s = this.settings;
    const jitter = s.intervalMs * (s.intervalJitterPercent / 100) * Math.random();
    this.timer = setTimeout(() => this.ping(), Math.max(1, s.intervalMs - jitter));
    this.timer.unref();
  }

  private ping(): void {
    this.timer = null;
    if (this.stopped || this.session.destroyed || this.session.closed) return;
    let answered = false;
    const deadline = setTimeout(() => {
      if (answered || this.stopped) return;
      this.stop();
      this.onTimeout();
    }, this.settings.timeoutMs);
    deadline.unref();
    // A PING node:http2 refuses to send (too many outstanding) stays unanswered: the deadline decides.
    this.session.ping((err) => {
      answered = true;
      clearTimeout(deadline);
      if (err === null) this.schedule();
    });
  }
}
