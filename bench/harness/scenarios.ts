// Any thread (pure). The benchmark scenarios and which systems each one measures.

import { BODY_PATHS } from './configs/nginx-conf.ts';

export interface LoadScenario {
  readonly kind: 'load';
  readonly id: string;
  readonly title: string;
  readonly path: string;
  readonly bodyBytes: number;
  readonly keepAlive: boolean;
  readonly systems: readonly string[];
}

export interface IdleScenario {
  readonly kind: 'idle-memory';
  readonly id: string;
  readonly title: string;
  readonly systems: readonly string[];
}

export type Scenario = LoadScenario | IdleScenario;

const MAIN = ['direct', 'legate-1', 'legate-all', 'nginx', 'haproxy', 'http-proxy'];

export const SCENARIOS: readonly Scenario[] = Object.freeze([
  { kind: 'load', id: 'ka-5b', title: 'keep-alive, 5-byte body', path: BODY_PATHS.small, bodyBytes: 5, keepAlive: true, systems: MAIN },
  { kind: 'load', id: 'ka-16k', title: 'keep-alive, 16 KiB body', path: BODY_PATHS.large, bodyBytes: 16384, keepAlive: true, systems: MAIN },
  { kind: 'load', id: 'close-5b', title: 'new connection per request, 5-byte body', path: BODY_PATHS.small, bodyBytes: 5, keepAlive: false, systems: MAIN },
  { kind: 'load', id: 'close-16k', title: 'new connection per request, 16 KiB body', path: BODY_PATHS.large, bodyBytes: 16384, keepAlive: false, systems: MAIN },
  {
    kind: 'load',
    id: 'features',
    title: 'keep-alive, 5-byte body: minimal config vs realistic (50 routes, rewrites, ids) vs access log on',
    path: BODY_PATHS.small,
    bodyBytes: 5,
    keepAlive: true,
    systems: ['legate-1-minimal', 'legate-1', 'legate-1-log', 'nginx-minimal', 'nginx', 'nginx-log', 'haproxy-minimal', 'haproxy', 'haproxy-log'],
  },
  {
    kind: 'idle-memory',
    id: 'idle-memory',
    title: 'memory per idle keep-alive downstream connection',
    systems: ['legate-1', 'legate-all', 'nginx', 'haproxy', 'http-proxy'],
  },
] satisfies Scenario[]);
