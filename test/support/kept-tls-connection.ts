// Test support. A TLS connection to a Legate listener kept open (HTTP/1.1 keep-alive), for certificate-rotation
// tests: which certificate it got (its serial), and a GET on it that waits for the expected body.

import tls from 'node:tls';
import { waitUntil } from './polling.ts';

export class KeptTlsConnection {
  readonly socket: tls.TLSSocket;
  private readonly expect: string;
  private buffered = '';
  private constructor(socket: tls.TLSSocket, expect: string) {
    this.socket = socket;
    this.expect = expect;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffered += d;
    });
  }

  /** Connects with SNI `servername`, trusting `ca`; get() waits for `expect` in the response. */
  static open(port: number, ca: string, servername: string, expect: string): Promise<KeptTlsConnection> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, servername, ALPNProtocols: ['http/1.1'] }, () => resolve(new KeptTlsConnection(s, expect)));
      s.once('error', reject);
      s.setTimeout(5000, () => s.destroy(new Error('tls connect timed out')));
    });
  }

  /** The serial number of the certificate the server presented. */
  get serial(): string {
    return this.socket.getPeerX509Certificate()!.serialNumber;
  }

  async get(host: string): Promise<string> {
    this.buffered = '';
    this.socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
    await waitUntil(() => this.buffered.includes(this.expect), () => `a response on the kept connection (got: ${this.buffered})`, 5000);
    return this.buffered;
  }

  close(): void {
    this.socket.destroy();
  }
}
