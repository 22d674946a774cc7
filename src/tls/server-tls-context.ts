// Worker thread. The downstream side of one DownstreamTlsSpec (one per TLS filter chain, per worker): a tls.Server
// that never listens itself; the listener hands it accepted TCP connections. It picks the certificate by SNI,
// verifies client certificates as Envoy does, reports each refused handshake with its ssl.* reason, and swaps
// certificates in place when the primary sends a reloaded spec.

import type net from 'node:net';
import tls from 'node:tls';
import { log } from '../common/logger.ts';
import { PeerValidator } from './peer-validator.ts';
import { createSecureContexts, secureContextOptions } from './secure-context.ts';
import type { DownstreamTlsSpec, TlsFailureReason } from './tls-spec.ts';

/** Called on the worker's event loop, from node:tls events. Neither may throw (a throw resets that connection). */
export interface ServerTlsCallbacks {
  /**
   * The handshake finished and every check passed: the socket is the caller's (its alpnProtocol, servername,
   * getPeerX509Certificate() are set). Count `ssl.handshake` here (and `ssl.no_certificate` when
   * getPeerX509Certificate() is undefined, `ssl.session_reused` when isSessionReused()).
   */
  onSecureConnection(socket: tls.TLSSocket): void;
  /**
   * A handshake failed (reason 'connection_error', with node's error) or a peer was refused after it (the other
   * reasons, error null). The socket is already destroyed. Count `ssl.<reason>`.
   */
  onTlsFailure(reason: TlsFailureReason, error: Error | null, socket: tls.TLSSocket): void;
}

export interface ServerTlsOptions {
  /** Handshake deadline; a handshake still running then fails with 'connection_error'. Node's default: 120 s. */
  handshakeTimeoutMs?: number;
}

export class ServerTlsContext {
  /**
   * The tls.Server: fed by accept(); it may also listen() directly (tests, a listener without filter chain
   * matching). Its 'secureConnection' and 'tlsClientError' events are this object's; add no others.
   */
  readonly server: tls.Server;
  private spec: DownstreamTlsSpec;
  private contexts: tls.SecureContext[];
  /** Lower-cased server name -> index into contexts; wildcards are keyed by what follows "*.". */
  private exact: Map<string, number>;
  private wildcard: Map<string, number>;
  private validator: PeerValidator;
  private readonly requestCert: boolean;
  private readonly callbacks: ServerTlsCallbacks;

  constructor(spec: DownstreamTlsSpec, callbacks: ServerTlsCallbacks, options: ServerTlsOptions = {}) {
    this.spec = spec;
    this.callbacks = callbacks;
    this.contexts = createSecureContexts(spec);
    this.exact = new Map();
    this.wildcard = new Map();
    this.indexServerNames();
    this.validator = new PeerValidator(spec.common.validation);
    // Envoy asks for a client certificate when it has something to verify one against (a CA or pins).
    const v = spec.common.validation;
    this.requestCert = v !== null && (v.trustedCa !== null || v.spkiPins.length > 0 || v.certHashes.length > 0);
    const o: tls.TlsOptions = {
      ...secureContextOptions(spec, spec.common.certificates[0]!),
      requestCert: this.requestCert,
      // Verdicts are ours (verifyPeer), so that every refusal is seen and counted: with rejectUnauthorized Node
      // would drop a bad client certificate silently.
      rejectUnauthorized: false,
      SNICallback: this.onSni,
    };
    if (spec.common.alpnProtocols.length > 0) o.ALPNProtocols = spec.common.alpnProtocols;
    if (options.handshakeTimeoutMs !== undefined && options.handshakeTimeoutMs > 0) o.handshakeTimeout = options.handshakeTimeoutMs;
    this.server = tls.createServer(o);
    this.server.on('secureConnection', this.onSecure);
    this.server.on('tlsClientError', this.onClientError);
  }

  /** The spec in use (the last one given to update()). */
  get currentSpec(): DownstreamTlsSpec {
    return this.spec;
  }

  /** Starts the TLS handshake on an accepted TCP connection (bytes already read, e.g. by tls_inspector, unshifted). */
  accept(socket: net.Socket): void {
    this.server.emit('connection', socket);
  }

  /**
   * New key material for the same context (the certificate watcher's reload). Connections already established
   * keep theirs; handshakes from now on use the new certificates. Settings that shape the tls.Server itself
   * (require_client_certificate, alpn_protocols, session settings) are fixed at construction: a config change
   * gets a new ServerTlsContext. Returns false (keeping the old material) if OpenSSL refuses the new one.
   */
  update(spec: DownstreamTlsSpec): boolean {
    let contexts: tls.SecureContext[];
    try {
      contexts = createSecureContexts(spec);
      this.server.setSecureContext(secureContextOptions(spec, spec.common.certificates[0]!));
    } catch (err) {
      log.warn(`tls: ${spec.id}: new certificates refused, keeping the old ones: ${(err as Error).message}`);
      return false;
    }
    this.spec = spec;
    this.contexts = contexts;
    this.indexServerNames();
    this.validator = new PeerValidator(spec.common.validation);
    return true;
  }

  /** The context a handshake with this SNI gets: exact name, then "*." wildcard, then the first certificate. */
  contextForServerName(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    let i = this.exact.get(name);
    if (i === undefined) {
      const dot = name.indexOf('.');
      if (dot > 0) i = this.wildcard.get(name.slice(dot + 1));
    }
    return this.contexts[i ?? 0]!;
  }

  /** Envoy's post-handshake verdict on a downstream peer; null when accepted. */
  verifyPeer(socket: tls.TLSSocket): TlsFailureReason | null {
    if (this.spec.requireSni && !socket.servername) return 'connection_error';
    if (!this.requestCert) return null;
    const cert = socket.getPeerX509Certificate();
    if (cert === undefined) return this.spec.requireClientCertificate ? 'fail_verify_no_cert' : null;
    return this.validator.check(cert, socket.authorized);
  }

  /** Stops a listening server; connections already handed out are the caller's. */
  close(): void {
    if (this.server.listening) this.server.close();
  }

  private indexServerNames(): void {
    const exact = new Map<string, number>();
    const wildcard = new Map<string, number>();
    const certs = this.spec.common.certificates;
    for (let i = 0; i < certs.length; i++) {
      for (const name of certs[i]!.serverNames) {
        if (name.startsWith('*.')) {
          if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), i);
        } else if (!exact.has(name)) {
          exact.set(name, i);
        }
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
  }

  private readonly onSni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.contextForServerName(servername));
  };

  private readonly onSecure = (socket: tls.TLSSocket): void => {
    try {
      const reason = this.verifyPeer(socket);
      if (reason !== null) {
        socket.destroy();
        this.callbacks.onTlsFailure(reason, null, socket);
        return;
      }
      this.callbacks.onSecureConnection(socket);
    } catch (err) {
      socket.destroy();
      log.error(`tls: ${this.spec.id}: bug: exception at the connection boundary: ${(err as Error).stack ?? String(err)}`);
    }
  };

  private readonly onClientError = (err: Error, socket: tls.TLSSocket): void => {
    socket.destroy();
    try {
      this.callbacks.onTlsFailure('connection_error', err, socket);
    } catch (e) {
      log.error(`tls: ${this.spec.id}: bug: exception in onTlsFailure: ${(e as Error).stack ?? String(e)}`);
    }
  };
}
