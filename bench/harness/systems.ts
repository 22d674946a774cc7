// Primary thread (bench harness). The systems under test and the upstream: how each is configured, started
// (pinned), found in /proc, and stopped.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchProcess, freePort, waitForPort } from './bench-process.ts';
import { childFdLimit, processTree } from './proc-stats.ts';
import { legateBootstrapYaml } from './configs/legate-bootstrap.ts';
import { nginxProxyConf, nginxUpstreamConf, LARGE_BODY_BYTES } from './configs/nginx-conf.ts';
import { haproxyCfg } from './configs/haproxy-cfg.ts';
import type { Profile } from './configs/realistic-routes.ts';
import type { ToolName } from './tools.ts';
import type { BenchCert } from './tls-cert.ts';
import { probeGrpc } from './grpc-bench-service.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = process.execPath;

export type Family = 'direct' | 'legate' | 'nginx' | 'haproxy' | 'http-proxy';
export type Speaks = 'http1' | 'h2-tls' | 'grpc';

/** taskset CPU lists; undefined = not pinned. */
export interface Pinning {
  readonly load: string | undefined;
  readonly upstream: string | undefined;
  readonly proxy: string | undefined;
  /** For "Legate, all cores". */
  readonly all: string | undefined;
  readonly allWorkers: number;
  readonly description: string;
}

export function choosePinning(): Pinning {
  const n = os.availableParallelism();
  if (n < 2) {
    return { load: undefined, upstream: undefined, proxy: undefined, all: undefined, allWorkers: 1, description: 'one CPU: nothing pinned, load, upstream and proxy share it' };
  }
  return {
    load: '0',
    upstream: '0',
    proxy: '1',
    all: `0-${n - 1}`,
    allWorkers: n,
    description:
      `load generator and upstream on CPU 0, each single-worker proxy alone on CPU 1; ` +
      `"Legate, all cores" has ${n} workers on CPUs 0-${n - 1} (sharing CPU 0 with the load)`,
  };
}

export interface RunContext {
  readonly tmpDir: string;
  readonly pinning: Pinning;
  readonly upstreamPort: number;
  readonly nginx: string | undefined;
  readonly haproxy: string | undefined;
  /** The run's self-signed certificate, when the h2-tls scenario runs and openssl is there. */
  readonly cert: BenchCert | undefined;
  /** The gRPC server's port, when the grpc-unary scenario runs. */
  readonly grpcPort: number | undefined;
}

export interface RunningSystem {
  readonly port: number;
  /** The processes whose CPU and memory count (all of them, found again each time: nginx forks its worker). */
  pids(): number[];
  readonly running: boolean;
  logTail(): string;
  stop(): Promise<void>;
}

export interface SystemDef {
  readonly id: string;
  readonly family: Family;
  readonly label: string;
  readonly profile: Profile | undefined;
  /** The external programs it needs (to run, and to be measured: h2load); missing ones skip the system. */
  readonly tools: readonly ToolName[];
  /** What it serves: HTTP/1.1, HTTP/2 over TLS, or gRPC over h2c (how warm-up loads it). */
  readonly speaks: Speaks;
  /** The nginx system doing the same work, for the "× nginx" ratio. */
  readonly nginxPeer: string | undefined;
  /**
   * The system this one is a profile variant of (legate-1-minimal of legate-1, nginx-log of nginx): `--only` with
   * the base id selects its variants too, so `--only legate-1,nginx` measures both in every profile.
   */
  readonly variantOf: string | undefined;
  start(ctx: RunContext, instance: string): Promise<RunningSystem>;
}

function fromProcess(proc: BenchProcess, port: number): RunningSystem {
  return {
    port,
    pids: () => (proc.running ? processTree(proc.pid) : []),
    get running() {
      return proc.running;
    },
    logTail: () => proc.logTail(),
    stop: () => proc.stop(),
  };
}

async function started(proc: BenchProcess, port: number): Promise<RunningSystem> {
  try {
    await waitForPort(port, proc, 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return fromProcess(proc, port);
}

/** How a row label names a non-default profile. */
function profileSuffix(profile: Profile): string {
  switch (profile) {
    case 'minimal':
      return ', minimal config';
    case 'realistic-log':
      return ', access log on';
    case 'realistic-filters':
      return ', ten filters';
    case 'realistic':
      return '';
  }
}

/** The tools a system of each kind needs besides its own program: h2load to be measured, openssl for the cert. */
function loadTools(speaks: Speaks): ToolName[] {
  return speaks === 'h2-tls' ? ['h2load', 'openssl'] : speaks === 'grpc' ? ['h2load'] : [];
}

function needCert(ctx: RunContext): BenchCert {
  if (ctx.cert === undefined) throw new Error('no certificate for the HTTP/2-over-TLS listener (openssl missing?)');
  return ctx.cert;
}

function needGrpc(ctx: RunContext): number {
  if (ctx.grpcPort === undefined) throw new Error('the gRPC server is not running');
  return ctx.grpcPort;
}

function legate(
  id: string,
  workers: 'one' | 'all',
  profile: Profile,
  nginxPeer: string | undefined,
  speaks: Speaks = 'http1',
  variantOf: string | undefined = undefined,
): SystemDef {
  const what = profileSuffix(profile);
  return {
    id,
    family: 'legate',
    label: workers === 'one' ? `Legate, 1 worker${what}` : `Legate, all cores${what}`,
    profile,
    tools: loadTools(speaks),
    speaks,
    nginxPeer,
    variantOf,
    async start(ctx, instance) {
      const port = await freePort();
      const adminPort = await freePort();
      const file = path.join(ctx.tmpDir, `${instance}.yaml`);
      const accessLogPath = path.join(ctx.tmpDir, `${instance}-access.log`);
      const cert = speaks === 'h2-tls' ? needCert(ctx) : undefined;
      fs.writeFileSync(
        file,
        legateBootstrapYaml({
          port,
          adminPort,
          upstreamPort: speaks === 'grpc' ? needGrpc(ctx) : ctx.upstreamPort,
          profile,
          accessLogPath,
          tls: cert !== undefined ? { certPath: cert.certPath, keyPath: cert.keyPath } : undefined,
          upstreamHttp2: speaks === 'grpc',
        }),
      );
      const concurrency = workers === 'one' ? 1 : ctx.pinning.allWorkers;
      const proc = new BenchProcess({
        name: instance,
        command: path.join(ROOT, 'bin/legate'),
        args: ['-c', file, '--concurrency', String(concurrency), '--log-level', 'warn'],
        cpus: workers === 'one' ? ctx.pinning.proxy : ctx.pinning.all,
        logDir: ctx.tmpDir,
      });
      const sys = await started(proc, port);
      if (speaks === 'grpc') await probed(sys);
      return sys;
    },
  };
}

function nginx(id: string, profile: Profile, speaks: 'http1' | 'h2-tls' = 'http1', variantOf: string | undefined = undefined): SystemDef {
  const what = profileSuffix(profile);
  return {
    id,
    family: 'nginx',
    label: `nginx, 1 worker${what}`,
    profile,
    tools: ['nginx', ...loadTools(speaks)],
    speaks,
    nginxPeer: undefined,
    variantOf,
    async start(ctx, instance) {
      const port = await freePort();
      const conf = path.join(ctx.tmpDir, `${instance}.conf`);
      fs.mkdirSync(path.join(ctx.tmpDir, `${instance}-tmp`), { recursive: true });
      fs.writeFileSync(
        conf,
        nginxProxyConf({
          dir: ctx.tmpDir,
          name: instance,
          port,
          upstreamPort: ctx.upstreamPort,
          profile,
          accessLogPath: path.join(ctx.tmpDir, `${instance}-access.log`),
          fdLimit: childFdLimit(),
          tls: speaks === 'h2-tls' ? needCert(ctx) : undefined,
        }),
      );
      const proc = new BenchProcess({
        name: instance,
        command: ctx.nginx!,
        args: ['-p', ctx.tmpDir, '-e', path.join(ctx.tmpDir, `${instance}-startup.log`), '-c', conf],
        cpus: ctx.pinning.proxy,
        logDir: ctx.tmpDir,
      });
      return started(proc, port);
    },
  };
}

function haproxy(id: string, profile: Profile, speaks: 'http1' | 'h2-tls' = 'http1', variantOf: string | undefined = undefined): SystemDef {
  const what = profileSuffix(profile);
  return {
    id,
    family: 'haproxy',
    label: `HAProxy, 1 thread${what}`,
    profile,
    tools: ['haproxy', ...loadTools(speaks)],
    speaks,
    nginxPeer: speaks === 'h2-tls' ? 'nginx-h2tls' : profile === 'minimal' ? 'nginx-minimal' : profile === 'realistic-log' ? 'nginx-log' : 'nginx',
    variantOf,
    async start(ctx, instance) {
      const port = await freePort();
      const cfg = path.join(ctx.tmpDir, `${instance}.cfg`);
      const tlsPem = speaks === 'h2-tls' ? needCert(ctx).pemPath : undefined;
      fs.writeFileSync(cfg, haproxyCfg({ port, upstreamPort: ctx.upstreamPort, profile, fdLimit: childFdLimit(), tlsPem }));
      const proc = new BenchProcess({
        name: instance,
        command: ctx.haproxy!,
        args: ['-db', '-f', cfg],
        cpus: ctx.pinning.proxy,
        logDir: ctx.tmpDir,
        stdoutFile: path.join(ctx.tmpDir, `${instance}-access.log`),
      });
      return started(proc, port);
    },
  };
}

const httpProxy: SystemDef = {
  id: 'http-proxy',
  family: 'http-proxy',
  label: 'http-proxy (npm), Node',
  profile: undefined,
  tools: [],
  speaks: 'http1',
  nginxPeer: 'nginx',
  variantOf: undefined,
  async start(ctx, instance) {
    const port = await freePort();
    const proc = new BenchProcess({
      name: instance,
      command: NODE,
      args: [path.join(ROOT, 'bench/peers/http-proxy-server.ts'), String(port), String(ctx.upstreamPort)],
      cpus: ctx.pinning.proxy,
      logDir: ctx.tmpDir,
    });
    return started(proc, port);
  },
};

const direct: SystemDef = {
  id: 'direct',
  family: 'direct',
  label: 'direct to the upstream (ceiling)',
  profile: undefined,
  tools: [],
  speaks: 'http1',
  nginxPeer: undefined,
  variantOf: undefined,
  start: (ctx) => Promise.resolve(alreadyRunning(ctx.upstreamPort)),
};

/** A server the harness started for the whole run (the upstream, the gRPC server): nothing of its own to stop. */
function alreadyRunning(port: number): RunningSystem {
  return { port, pids: () => [], running: true, logTail: () => '', stop: () => Promise.resolve() };
}

const grpcDirect: SystemDef = {
  id: 'grpc-direct',
  family: 'direct',
  label: 'direct to the gRPC server (ceiling)',
  profile: undefined,
  tools: loadTools('grpc'),
  speaks: 'grpc',
  nginxPeer: undefined,
  variantOf: undefined,
  start: (ctx) => Promise.resolve(alreadyRunning(needGrpc(ctx))),
};

/** A gRPC system is up once one real call through it ends OK (h2load sees HTTP statuses, not grpc-status). */
async function probed(sys: RunningSystem): Promise<void> {
  try {
    await probeGrpc(sys.port);
  } catch (err) {
    const tail = sys.logTail();
    await sys.stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}${tail !== '' ? `\n${tail}` : ''}`);
  }
}

/** Every system, in the order a round visits them. */
export const SYSTEMS: readonly SystemDef[] = Object.freeze([
  direct,
  legate('legate-1', 'one', 'realistic', 'nginx'),
  legate('legate-all', 'all', 'realistic', 'nginx'),
  nginx('nginx', 'realistic'),
  haproxy('haproxy', 'realistic'),
  httpProxy,
  legate('legate-1-minimal', 'one', 'minimal', 'nginx-minimal', 'http1', 'legate-1'),
  legate('legate-1-filters', 'one', 'realistic-filters', 'nginx', 'http1', 'legate-1'),
  legate('legate-1-log', 'one', 'realistic-log', 'nginx-log', 'http1', 'legate-1'),
  nginx('nginx-minimal', 'minimal', 'http1', 'nginx'),
  nginx('nginx-log', 'realistic-log', 'http1', 'nginx'),
  haproxy('haproxy-log', 'realistic-log', 'http1', 'haproxy'),
  legate('legate-1-h2tls', 'one', 'realistic', 'nginx-h2tls', 'h2-tls'),
  legate('legate-all-h2tls', 'all', 'realistic', 'nginx-h2tls', 'h2-tls'),
  nginx('nginx-h2tls', 'realistic', 'h2-tls'),
  haproxy('haproxy-h2tls', 'realistic', 'h2-tls'),
  grpcDirect,
  legate('legate-1-grpc', 'one', 'minimal', undefined, 'grpc'),
]);

export function systemById(id: string): SystemDef | undefined {
  return SYSTEMS.find((s) => s.id === id);
}

/**
 * True when `only` (ids or families; an id selects its profile variants too) selects the system and `profiles`
 * holds its profile (systems without one, direct and http-proxy, always pass); undefined selects all.
 */
export function selected(s: SystemDef, only: readonly string[] | undefined, profiles: readonly Profile[] | undefined = undefined): boolean {
  const byName = only === undefined || only.includes(s.id) || only.includes(s.family) || (s.variantOf !== undefined && only.includes(s.variantOf));
  return byName && (profiles === undefined || s.profile === undefined || profiles.includes(s.profile));
}

export interface Upstream {
  readonly kind: 'nginx' | 'node';
  readonly port: number;
  readonly description: string;
  readonly system: RunningSystem;
}

export async function startUpstream(kind: 'nginx' | 'node', tmpDir: string, pinning: Pinning, nginxBin: string | undefined): Promise<Upstream> {
  const port = await freePort();
  let proc: BenchProcess;
  let description: string;
  if (kind === 'nginx') {
    const large = path.join(tmpDir, 'body-16k.txt');
    fs.writeFileSync(large, Buffer.alloc(LARGE_BODY_BYTES, 'hello'));
    fs.mkdirSync(path.join(tmpDir, 'upstream-tmp'), { recursive: true });
    const conf = path.join(tmpDir, 'upstream.conf');
    fs.writeFileSync(conf, nginxUpstreamConf(tmpDir, port, large, childFdLimit()));
    proc = new BenchProcess({
      name: 'upstream',
      command: nginxBin!,
      args: ['-p', tmpDir, '-e', path.join(tmpDir, 'upstream-startup.log'), '-c', conf],
      cpus: pinning.upstream,
      logDir: tmpDir,
    });
    description = 'nginx, 1 worker, `return 200 "hello"` (5 bytes) and a 16 KiB static file (sendfile, open_file_cache)';
  } else {
    proc = new BenchProcess({
      name: 'upstream',
      command: NODE,
      args: [path.join(ROOT, 'bench/harness/node-upstream.ts'), String(port)],
      cpus: pinning.upstream,
      logDir: tmpDir,
    });
    description = 'node:http fixed-response server (nginx not installed), 5-byte and 16 KiB bodies';
  }
  return { kind, port, description, system: await started(proc, port) };
}

/** The grpc-unary scenario's server (@grpc/grpc-js), pinned with the upstream, up once a real call succeeds. */
export async function startGrpcServer(tmpDir: string, pinning: Pinning): Promise<RunningSystem> {
  const port = await freePort();
  const proc = new BenchProcess({
    name: 'grpc-server',
    command: NODE,
    args: [path.join(ROOT, 'bench/harness/grpc-server.ts'), String(port)],
    cpus: pinning.upstream,
    logDir: tmpDir,
  });
  const sys = await started(proc, port);
  await probed(sys);
  return sys;
}
