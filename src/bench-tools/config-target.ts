// Any thread. Where `legate bench -c CONFIG` sends load: the first static listener's address, read straight from the
// bootstrap file (Legate itself validates the file when it starts; this only needs the address).

import fs from 'node:fs';
import { parse } from 'yaml';

export class ConfigTargetError extends Error {
  override name = 'ConfigTargetError';
  readonly code = 'BENCH_CONFIG_TARGET';
}

export interface ListenerTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** https when the first filter chain has a transport socket (TLS). */
  readonly scheme: 'http' | 'https';
}

type Obj = Record<string, unknown>;

/** Envoy accepts both snake_case and camelCase field names. */
function field(o: unknown, snake: string): unknown {
  if (o === null || typeof o !== 'object') return undefined;
  const rec = o as Obj;
  if (snake in rec) return rec[snake];
  return rec[snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())];
}

/** Wildcard listen addresses are reached on loopback. */
function connectHost(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::' || address === '::0') return '::1';
  return address;
}

export function firstListenerTarget(configPath: string): ListenerTarget {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new ConfigTargetError(`cannot read ${configPath}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigTargetError(`${configPath} is not YAML or JSON: ${(err as Error).message}`);
  }
  const listeners = field(field(doc, 'static_resources'), 'listeners');
  if (!Array.isArray(listeners) || listeners.length === 0) {
    throw new ConfigTargetError(`${configPath} has no static_resources.listeners: give the URL to load with --url`);
  }
  const l = listeners[0] as unknown;
  const sa = field(field(l, 'address'), 'socket_address');
  const address = field(sa, 'address');
  const port = Number(field(sa, 'port_value'));
  if (typeof address !== 'string' || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ConfigTargetError(
      `${configPath}: static_resources.listeners[0] has no socket_address with address and port_value: give the URL with --url`,
    );
  }
  const chains = field(l, 'filter_chains');
  const tls = Array.isArray(chains) && chains.length > 0 && field(chains[0], 'transport_socket') !== undefined;
  const name = field(l, 'name');
  return { name: typeof name === 'string' ? name : 'listeners[0]', host: connectHost(address), port, scheme: tls ? 'https' : 'http' };
}

export function targetUrl(t: ListenerTarget, path: string): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.scheme}://${host}:${t.port}${path.startsWith('/') ? path : '/' + path}`;
}
