// Primary thread. envoy.stat_sinks.statsd and envoy.stat_sinks.dog_statsd: at every stats flush, the counters that
// were ever written as their change since the previous flush (`|c`), gauges as their value (`|g`), and what each
// histogram recorded during the interval as timers (`|ms`; a value recorded n times is sent once with the sample
// rate 1/n). StatsD names are full stat names; DogStatsD names are tag-extracted with the tags appended (`|#k:v`).
// UDP to the sink's address; a send that fails is counted by the caller, never thrown.

import dgram from 'node:dgram';
import net from 'node:net';
import type { StatInfo } from './stat-registry.ts';
import { StatsSinkKind, type StatsSinkSettings } from './stats-config.ts';
import { StatKind } from './stat-kind.ts';

/** What one flush hands every sink. */
export interface SinkFlush {
  /** Counters and gauges to send: a counter's value is its change since the previous flush. */
  readonly values: readonly { readonly info: StatInfo; readonly value: number }[];
  readonly histograms: readonly StatInfo[];
  /** The flush interval's distinct values of a histogram slot with their counts. */
  forEachIntervalValue(slot: number, fn: (value: number, count: number) => void): void;
}

export class StatsdSink {
  readonly settings: StatsSinkSettings;
  private readonly socket: dgram.Socket;
  private readonly tagged: boolean;
  /** Datagrams that could not be sent (server.dropped_stat_flushes is the caller's). */
  sendErrors = 0;

  constructor(settings: StatsSinkSettings) {
    this.settings = settings;
    this.tagged = settings.kind === StatsSinkKind.DOG_STATSD;
    this.socket = dgram.createSocket(net.isIPv6(settings.address) ? 'udp6' : 'udp4');
    this.socket.on('error', () => {
      this.sendErrors++;
    });
    this.socket.unref();
  }

  /** The lines of one flush (pure: what flush() sends, for tests). */
  lines(flush: SinkFlush): string[] {
    const out: string[] = [];
    for (const v of flush.values) {
      const type = v.info.kind === StatKind.COUNTER ? 'c' : 'g';
      out.push(`${this.name(v.info)}:${v.value}|${type}${this.tags(v.info)}`);
    }
    for (const h of flush.histograms) {
      const name = this.name(h);
      const tags = this.tags(h);
      flush.forEachIntervalValue(h.slot, (value, count) => {
        const rate = count > 1 ? `|@${formatRate(1 / count)}` : '';
        out.push(`${name}:${value}|ms${rate}${tags}`);
      });
    }
    return out;
  }

  flush(flush: SinkFlush): void {
    const lines = this.lines(flush);
    const max = this.settings.maxBytesPerDatagram;
    if (max <= 0) {
      for (const line of lines) this.send(line);
      return;
    }
    let buf = '';
    for (const line of lines) {
      if (buf !== '' && Buffer.byteLength(buf) + 1 + Buffer.byteLength(line) > max) {
        this.send(buf);
        buf = '';
      }
      buf = buf === '' ? line : `${buf}\n${line}`;
    }
    if (buf !== '') this.send(buf);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private send(text: string): void {
    this.socket.send(text, this.settings.port, this.settings.address, (err) => {
      if (err) this.sendErrors++;
    });
  }

  private name(info: StatInfo): string {
    return `${this.settings.prefix}.${this.tagged ? info.tagExtractedName : info.name}`;
  }

  private tags(info: StatInfo): string {
    if (!this.tagged || info.tags.length === 0) return '';
    return `|#${info.tags.map((t) => `${envoyTagName(t.name)}:${t.value}`).join(',')}`;
  }
}

/** Legate's label names are Envoy's tag names with '.' as '_': `envoy_cluster_name` is `envoy.cluster_name`. */
function envoyTagName(label: string): string {
  return label.startsWith('envoy_') ? `envoy.${label.slice(6)}` : label;
}

function formatRate(rate: number): string {
  return String(Math.round(rate * 1e6) / 1e6);
}
