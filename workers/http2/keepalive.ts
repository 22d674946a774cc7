// Worker thread, shared by the downstream HTTP/2 connection and the upstream HTTP/2 pool.
// Http2ProtocolOptions.connection_keepalive for one HTTP/2 session: a PING every `interval` (less up to
// interval_jitter percent), and the session is closed when the ACK does not come within `timeout` (Envoy's
// keepalive; counted by the caller as http2.keepalive_timeout). Its timers and the PING callback are entry points: an
// exception there (a bug) stops keepalive and goes to the owner's onError, which ends that session only.

import type { Http2Keepalive } from '../../src/snapshot/snapshot-types.ts';

/** What keepalive needs of a session: Legate's client codec (upstream) and server codec (downstream). */
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
  private readonly onError: (err: unknown) => void;
  private timer: NodeJS.Timeout | null;
  private stopped: boolean;

  /** `onError`: an exception escaped a keepalive timer or callback; the owner counts it and ends the session. Must not throw. */
  constructor(session: PingableSession, settings: Http2Keepalive, onTimeout: () => void, onError: (err: unknown) => void) {
    this.session = session;
    this.settings = settings;
    this.onTimeout = onTimeout;
    this.onError = onError;
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
    this.timer = setTimeout(() => {
      try {
        this.ping();
      } catch (err) {
        this.fail(err);
      }
    }, Math.max(1, s.intervalMs - jitter));
    this.timer.unref();
  }

  private ping(): void {
    this.timer = null;
    if (this.stopped || this.session.destroyed || this.session.closed) return;
    let answered = false;
    const deadline = setTimeout(() => {
      if (answered || this.stopped) return;
      this.stop();
      try {
        this.onTimeout();
      } catch (err) {
        this.fail(err);
      }
    }, this.settings.timeoutMs);
    deadline.unref();
    // A PING the session refuses to send (closed meanwhile) stays unanswered: the deadline decides.
    this.session.ping((err) => {
      answered = true;
      clearTimeout(deadline);
      if (err !== null) return;
      try {
        this.schedule();
      } catch (err2) {
        this.fail(err2);
      }
    });
  }

  /** An exception in a timer or the PING callback: keepalive stops and the owner ends the session. */
  private fail(err: unknown): void {
    this.stop();
    this.onError(err);
  }
}
