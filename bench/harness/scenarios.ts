// Any thread (pure). The benchmark scenarios and which systems each one measures.

import { BODY_PATHS } from './configs/nginx-conf.ts';
import { GRPC_UNARY_PATH } from './grpc-bench-service.ts';

export interface LoadScenario {
  readonly kind: 'load';
  readonly id: string;
  readonly title: string;
  readonly path: string;
  readonly bodyBytes: number;
  readonly keepAlive: boolean;
  readonly systems: readonly string[];
}

/**
 * An HTTP/2 scenario driven by h2load (`clients` connections × `streams` concurrent streams each): HTTP/2 over TLS
 * to the HTTP/1.1 upstream (`h2-tls`), or gRPC unary calls over h2c to the gRPC server (`grpc`).
 */
export interface H2Scenario {
  readonly kind: 'h2load';
  readonly id: string;
  readonly title: string;
  readonly protocol: 'h2-tls' | 'grpc';
  readonly path: string;
  readonly clients: number;
  readonly streams: number;
  /** The system the "× reference" columns divide by. */
  readonly reference: string;
  readonly referenceLabel: string;
  readonly systems: readonly string[];
}

export interface IdleScenario {
  readonly kind: 'idle-memory';
  readonly id: string;
  readonly title: string;
  readonly systems: readonly string[];
}

export type Scenario = LoadScenario | H2Scenario | IdleScenario;
/** Scenarios measured against systems that start once and stay up for the whole run. */
export type SteadyScenario = LoadScenario | H2Scenario;

const MAIN = ['direct', 'legate-1', 'legate-all', 'nginx', 'haproxy', 'http-proxy'];
/**
 * The scenarios issue 14's HTTP/1.1 targets are judged on also run both profiles for the 1-worker Legate and nginx
 * (minimal: one route, the router alone) and Legate's ten-filter chain (realistic + ten filters that do not act).
 */
const WITH_PROFILES = [
  'direct', 'legate-1', 'legate-1-filters', 'legate-1-minimal', 'legate-all', 'nginx', 'nginx-minimal', 'haproxy', 'http-proxy',
];

export const SCENARIOS: readonly Scenario[] = Object.freeze([
  { kind: 'load', id: 'ka-5b', title: 'keep-alive, 5-byte body', path: BODY_PATHS.small, bodyBytes: 5, keepAlive: true, systems: WITH_PROFILES },
  { kind: 'load', id: 'ka-16k', title: 'keep-alive, 16 KiB body', path: BODY_PATHS.large, bodyBytes: 16384, keepAlive: true, systems: WITH_PROFILES },
  {
    kind: 'load',
    id: 'close-5b',
    title: 'new connection per request, 5-byte body',
    path: BODY_PATHS.small,
    bodyBytes: 5,
    keepAlive: false,
    systems: WITH_PROFILES,
  },
  { kind: 'load', id: 'close-16k', title: 'new connection per request, 16 KiB body', path: BODY_PATHS.large, bodyBytes: 16384, keepAlive: false, systems: MAIN },
  {
    kind: 'load',
    id: 'features',
    title: 'keep-alive, 5-byte body: access log off vs on (realistic profile)',
    path: BODY_PATHS.small,
    bodyBytes: 5,
    keepAlive: true,
    // The minimal profile is in ka-5b, ka-16k and close-5b now; this scenario keeps the access-log comparison.
    systems: ['legate-1', 'legate-1-log', 'nginx', 'nginx-log', 'haproxy', 'haproxy-log'],
  },
  {
    kind: 'h2load',
    id: 'h2-tls',
    title: 'HTTP/2 over TLS downstream (10 connections × 10 streams), HTTP/1.1 keep-alive upstream, 5-byte body',
    protocol: 'h2-tls',
    path: BODY_PATHS.small,
    clients: 10,
    streams: 10,
    reference: 'haproxy-h2tls',
    referenceLabel: 'HAProxy',
    systems: ['legate-1-h2tls', 'legate-all-h2tls', 'nginx-h2tls', 'haproxy-h2tls'],
  },
  {
    kind: 'h2load',
    id: 'grpc-unary',
    title: 'gRPC unary calls over h2c (10 connections × 10 streams), 100-byte messages, HTTP/2 upstream',
    protocol: 'grpc',
    path: GRPC_UNARY_PATH,
    clients: 10,
    streams: 10,
    reference: 'grpc-direct',
    referenceLabel: 'direct',
    systems: ['grpc-direct', 'legate-1-grpc'],
  },
  {
    kind: 'idle-memory',
    id: 'idle-memory',
    title: 'memory per idle keep-alive downstream connection',
    systems: ['legate-1', 'legate-all', 'nginx', 'haproxy', 'http-proxy'],
  },
] satisfies Scenario[]);
