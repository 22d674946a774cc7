// Any thread. Whether something accepts TCP connections at host:port, for start-up waits and pre-flight checks.

import net from 'node:net';

export interface ProbeResult {
  readonly ok: boolean;
  /** The connect error's code (ECONNREFUSED, ETIMEDOUT, …) when not ok. */
  readonly error: string | undefined;
}

/** Connects once and closes at once; a connect that takes longer than `timeoutMs` counts as ETIMEDOUT. */
export function probeTcp(host: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: ProbeResult): void => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ ok: false, error: 'ETIMEDOUT' }));
    sock.once('connect', () => done({ ok: true, error: undefined }));
    sock.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message }));
  });
}
