// Test support: the Python (grpcio, gRPC C-core) Echo peers of grpc_peer.py as an EchoServerPeer and an
// EchoClientDriver, so tests run the same specs against either implementation (see grpc-peers.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { CallLog, type CallOutcome, type CallSpec, type EchoClientDriver, type EchoServerPeer, type SeenCall } from './grpc-peers.ts';

/** Debian's python3 with python3-grpcio; a pyenv python3 earlier on PATH has no grpc module. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const GRPC_PEER_PY = path.join(import.meta.dirname, 'grpc_peer.py');

function peerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', no_proxy: '127.0.0.1', NO_PROXY: '127.0.0.1' };
  // C-core honours these for insecure channels too.
  for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'grpc_proxy', 'GRPC_PROXY', 'PYTHONPATH', 'PYTHONHOME']) delete env[k];
  return env;
}

function spawnPeer(args: string[]): ChildProcess {
  return spawn(SYSTEM_PYTHON, [GRPC_PEER_PY, ...args], { env: peerEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** grpc_peer.py server: listens on 127.0.0.1 port 0 and reports each call on stdout when it is over. */
export class PythonEchoServer implements EchoServerPeer {
  readonly kind = 'python' as const;
  readonly proc: ChildProcess;
  readonly log = new CallLog();
  port = 0;
  stderr = '';

  private constructor(proc: ChildProcess) {
    this.proc = proc;
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      this.stderr += d;
    });
  }

  static start(timeoutMs = 15_000): Promise<PythonEchoServer> {
    const srv = new PythonEchoServer(spawnPeer(['server']));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`python grpc server did not start:\n${srv.stderr}`)), timeoutMs);
      srv.proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`python grpc server exited (${code}):\n${srv.stderr}`));
      });
      readline.createInterface({ input: srv.proc.stdout! }).on('line', (line) => {
        const ev = JSON.parse(line) as { event: string; port?: number } & SeenCall;
        if (ev.event === 'listening') {
          srv.port = ev.port!;
          clearTimeout(timer);
          resolve(srv);
        } else if (ev.event === 'call') {
          const { event: _event, ...call } = ev;
          srv.log.add(call as SeenCall);
        }
      });
    });
  }

  ack(token: string): void {
    this.proc.stdin!.write(`ack ${token}\n`);
  }

  waitCall(id: string, timeoutMs?: number): Promise<SeenCall> {
    return this.log.wait(id, timeoutMs, 'python server').catch((err: Error) => {
      throw new Error(`${err.message}\npython server stderr:\n${this.stderr}`);
    });
  }

  close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.proc.once('exit', () => resolve());
      // Closing stdin ends it; the kill is for a server stuck in a handler.
      this.proc.stdin!.end();
      setTimeout(() => this.proc.kill('SIGKILL'), 2000).unref();
    });
  }
}

/** grpc_peer.py client: one process per run, one channel, the specs in order. */
export const pythonClient: EchoClientDriver = {
  kind: 'python',
  run(target: string, specs: CallSpec[], timeoutMs = 60_000): Promise<CallOutcome[]> {
    const proc = spawnPeer(['client', target]);
    const outcomes: CallOutcome[] = [];
    let stderr = '';
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      stderr += d;
    });
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string } & CallOutcome;
      if (ev.event === 'outcome') {
        const { event: _event, ...o } = ev;
        outcomes.push(o as CallOutcome);
      }
    });
    proc.stdin!.end(JSON.stringify(specs));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`python grpc client timed out after ${outcomes.length}/${specs.length} specs:\n${stderr}`));
      }, timeoutMs);
      proc.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0 && outcomes.length === specs.length) resolve(outcomes);
        else reject(new Error(`python grpc client exited ${code} after ${outcomes.length}/${specs.length} specs:\n${stderr}`));
      });
    });
  },
};
