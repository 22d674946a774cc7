// Worker thread. envoy.filters.listener.tls_inspector for one accepted connection: reads the first bytes without
// consuming them (they are put back with socket.unshift() before the filter chain's transport socket or network
// filter sees the socket), parses a TLS ClientHello (src/tls/client-hello.ts) and fills the facts the filter
// chain match uses: transport protocol "tls" or "raw_buffer", SNI, ALPN. Bounded by 64 KiB and by the listener's
// listener_filters_timeout. Counts tls_inspector.* as Envoy does.

import type net from 'node:net';
import type { ConnectionFacts } from '../../src/snapshot/filter-chain-matcher.ts';
import type { ListenerTlsConfig } from '../../src/tls/listener-tls-config.ts';
import type { WorkerStatsStore } from '../../src/stats/definitions.ts';
import { ClientHelloStatus, MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../../src/tls/client-hello.ts';

/** Who gets the connection back. Called once per inspection, on the worker thread, never from inside start(). */
export interface ListenerFilterOwner {
  /**
   * The listener filters are done: `facts` is complete and every byte read is back on the socket (not flowing, no
   * listeners of ours left). Place the connection on a filter chain now; it is the owner's from here.
   */
  onListenerFiltersDone(inspection: TlsInspection): void;
  /** The connection is gone (closed by the peer, too large a hello, timeout): it was destroyed. */
  onListenerFiltersFailed(inspection: TlsInspection): void;
}

const INSPECTING = 0;
const DONE = 1;

export class TlsInspection {
  readonly socket: net.Socket;
  readonly facts: ConnectionFacts;
  /** The listener filters timed out and the connection goes on without them (continue_on_listener_filters_timeout). */
  timedOut: boolean;
  private readonly owner: ListenerFilterOwner;
  private readonly config: ListenerTlsConfig;
  private readonly stats: WorkerStatsStore;
  private buffered: Buffer | null;
  private timer: NodeJS.Timeout | null;
  private state: number;
  private readonly onReadableBound: () => void;
  private readonly onCloseBound: () => void;

  constructor(socket: net.Socket, facts: ConnectionFacts, config: ListenerTlsConfig, stats: WorkerStatsStore, owner: ListenerFilterOwner) {
    this.socket = socket;
    this.facts = facts;
    this.timedOut = false;
    this.owner = owner;
    this.config = config;
    this.stats = stats;
    this.buffered = null;
    this.timer = null;
    this.state = INSPECTING;
    this.onReadableBound = () => this.onReadable();
    this.onCloseBound = () => this.fail();
  }

  /** Starts reading. Nothing is called back before this returns. */
  start(): void {
    const socket = this.socket;
    // 'readable' + read(): paused-mode reads, so that once our listener is removed the socket is back to its
    // initial state (not flowing, not paused) and whoever takes it next reads the bytes we put back.
    socket.on('readable', this.onReadableBound);
    socket.on('end', this.onCloseBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', ignoreError);
    const ms = this.config.listenerFiltersTimeoutMs;
    if (ms > 0) this.timer = setTimeout(onTimeout, ms, this);
  }

  /** The listener drains or stops: drop the connection. */
  abort(): void {
    if (this.state !== INSPECTING) return;
    this.fail();
  }

  private onReadable(): void {
    if (this.state !== INSPECTING) return;
    let chunk: Buffer | null;
    while ((chunk = this.socket.read() as Buffer | null) !== null) {
      this.buffered = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    }
    const data = this.buffered;
    if (data === null) return;
    const r = parseClientHello(data.length > MAX_CLIENT_HELLO_BYTES ? data.subarray(0, MAX_CLIENT_HELLO_BYTES) : data);
    const values = this.stats.values;
    const slots = this.config.inspectorSlots!;
    switch (r.status) {
      case ClientHelloStatus.NEED_MORE:
        return;
      case ClientHelloStatus.TLS:
        values[slots.tls_found]++;
        values[r.serverName === '' ? slots.sni_not_found : slots.sni_found]++;
        values[r.alpn.length === 0 ? slots.alpn_not_found : slots.alpn_found]++;
        this.facts.transportProtocol = 'tls';
        this.facts.serverName = r.serverName;
        this.facts.applicationProtocols = r.alpn;
        return this.finish();
      case ClientHelloStatus.NOT_TLS:
        values[slots.tls_not_found]++;
        return this.finish();
      case ClientHelloStatus.TOO_LARGE:
        // Envoy closes the connection: an unreasonably large hello, or not TLS at all.
        values[slots.client_hello_too_large]++;
        return this.fail();
    }
  }

  /** @internal listener_filters_timeout. */
  onTimeout(): void {
    this.timer = null;
    if (this.state !== INSPECTING) return;
    const slots = this.config.slots;
    if (slots !== null) this.stats.values[slots.downstream_pre_cx_timeout]++;
    if (!this.config.continueOnListenerFiltersTimeout) return this.fail();
    // Go on with what is known: no ClientHello, so raw_buffer without SNI or ALPN.
    this.timedOut = true;
    this.finish();
  }

  private detach(): void {
    this.state = DONE;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const socket = this.socket;
    socket.removeListener('readable', this.onReadableBound);
    socket.removeListener('end', this.onCloseBound);
    socket.removeListener('close', this.onCloseBound);
    // The no-op 'error' listener stays: whoever takes the socket adds its own, and until then an error must not
    // crash the worker ('close' follows it).
  }

  private finish(): void {
    this.detach();
    const data = this.buffered;
    this.buffered = null;
    // After the listener is gone (an unshift with it attached would be read again by us).
    if (data !== null) this.socket.unshift(data);
    // Removing the 'readable' listener resets the stream's flowing state on the next tick; hand the socket over
    // after that, so a consumer that pauses it first (tcp_proxy) stays paused and one that attaches 'data' flows.
    process.nextTick(handOver, this);
  }

  /** @internal */
  handOver(): void {
    if (this.socket.destroyed) {
      this.owner.onListenerFiltersFailed(this);
      return;
    }
    this.owner.onListenerFiltersDone(this);
  }

  private fail(): void {
    if (this.state !== INSPECTING) return;
    this.detach();
    this.buffered = null;
    this.socket.destroy();
    this.owner.onListenerFiltersFailed(this);
  }
}

function onTimeout(inspection: TlsInspection): void {
  inspection.onTimeout();
}

function handOver(inspection: TlsInspection): void {
  inspection.handOver();
}

function ignoreError(): void {}
