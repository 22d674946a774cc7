// Worker thread. The router's request mirroring (RouteAction/VirtualHost request_mirror_policies, Envoy's shadowing):
// for each policy that samples the request, a copy of it (the head as it goes upstream, host "<authority>-shadow",
// then the body as it streams) goes to the mirror cluster through the worker's AsyncClient. The copy's response is
// read and dropped; its failures are its own (counted in the mirror cluster's upstream_rq_* stats by the client).
// A copy never holds the main request back: the main request's bytes are handed on and forgotten, and a copy that
// cannot keep up (more than the listener's buffer limit waiting to be written) is abandoned, not waited for.

import type { HeaderList } from '../../src/http/stream-info.ts';
import { getHeader } from '../../src/http/stream-info.ts';
import { shadowHost, type MirrorPolicy } from '../../src/router/mirror-policy.ts';
import type { AsyncClient, AsyncClientError, AsyncStream, AsyncStreamCallbacks } from '../upstream/async-client.ts';

const EMPTY = Buffer.alloc(0);

/** One copy of the request, to one mirror cluster. Its callbacks discard the response. */
class Shadow implements AsyncStreamCallbacks {
  stream: AsyncStream | null;
  /** The copy's request has ended (or it was abandoned): nothing more is sent. */
  requestDone: boolean;
  /** The exchange is over (response ended, reset, or abandoned). */
  over: boolean;

  constructor() {
    this.stream = null;
    this.requestDone = false;
    this.over = false;
  }

  onHeaders(_status: number, _headers: HeaderList, endStream: boolean): void {
    if (endStream) this.over = true;
  }

  onData(_data: Buffer, endStream: boolean): void {
    if (endStream) this.over = true;
  }

  onTrailers(_trailers: HeaderList): void {
    this.over = true;
  }

  onReset(_error: AsyncClientError): void {
    this.over = true;
    this.requestDone = true;
  }

  abandon(): void {
    this.requestDone = true;
    if (this.over) return;
    this.over = true;
    this.stream?.reset();
  }
}

/** The request copies of one stream. */
export class RequestMirrors {
  private readonly shadows: Shadow[];
  private readonly limit: number;

  constructor(shadows: Shadow[], limit: number) {
    this.shadows = shadows;
    this.limit = limit;
  }

  /** A piece of the request body as the router sends it upstream (`endStream`: the last). */
  sendData(chunk: Buffer, endStream: boolean): void {
    const shadows = this.shadows;
    for (let i = 0; i < shadows.length; i++) {
      const s = shadows[i]!;
      if (s.requestDone) continue;
      if (endStream) s.requestDone = true;
      s.stream!.sendData(chunk, endStream);
      // Past the buffer limit the copy is abandoned, never the main request (Envoy: the shadow is reset).
      if (!endStream && s.stream!.bufferedBytes() > this.limit) s.abandon();
    }
  }

  /** The request ended with trailers (null: without). */
  end(trailers: HeaderList | null): void {
    if (trailers === null || trailers.length === 0) return this.sendData(EMPTY, true);
    const shadows = this.shadows;
    for (let i = 0; i < shadows.length; i++) {
      const s = shadows[i]!;
      if (s.requestDone) continue;
      s.requestDone = true;
      s.stream!.sendTrailers(trailers);
    }
  }

  /**
   * The main stream is over. A copy whose request is complete runs on to its response; one still waiting for body
   * (the client went away, or the response came first and the rest of the body will never be read) is reset.
   */
  onStreamDone(): void {
    const shadows = this.shadows;
    for (let i = 0; i < shadows.length; i++) if (!shadows[i]!.requestDone) shadows[i]!.abandon();
  }
}

/**
 * Starts a copy of the request for each of `policies` that samples it and names a cluster: `headers` as they go
 * upstream (route mutations applied, hop-by-hop removed), `path` the upstream path. null when none started.
 * `limit` is the most a copy may have waiting to be written (the listener's per_connection_buffer_limit_bytes).
 */
export function startRequestMirrors(
  client: AsyncClient, policies: readonly MirrorPolicy[], method: string, path: string, authority: string,
  headers: HeaderList, endStream: boolean, timeoutMs: number, limit: number,
): RequestMirrors | null {
  let shadows: Shadow[] | null = null;
  let copy: HeaderList | null = null;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (!p.sampled(Math.random())) continue;
    const cluster = p.clusterHeader === null ? p.cluster : (getHeader(headers, p.clusterHeader) ?? '');
    if (cluster === '') continue;
    if (copy === null) {
      copy = [];
      for (let k = 0; k < headers.length; k += 2) {
        const name = headers[k]!;
        if (name === 'host' || name.charCodeAt(0) === 58 /* : */) continue;
        // The copy's body is framed by the client (a filter may still rewrite the body after this head).
        if (name === 'content-length' && !endStream) continue;
        copy.push(name, headers[k + 1]!);
      }
    }
    const shadow = new Shadow();
    if (endStream) shadow.requestDone = true;
    // An unknown cluster is reported through onReset on a later tick: the copy is then simply over.
    shadow.stream = client.start(cluster, {
      method, path, authority: p.keepHost || authority === '' ? authority : shadowHost(authority), headers: copy, body: null, timeoutMs,
    }, endStream, shadow);
    (shadows ??= []).push(shadow);
  }
  return shadows === null ? null : new RequestMirrors(shadows, limit);
}
