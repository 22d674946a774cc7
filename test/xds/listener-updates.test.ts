// End to end: LDS/CDS updates applied as Envoy's listener manager applies them. A modified listener drains its
// connections (an HTTP/1.1 response in flight says `connection: close`, an HTTP/2 connection gets GOAWAY) while new
// connections take the new filter chains; another listener's connections are untouched; an update of filter chains
// alone is in place (only the changed chain's connections drain); a new cluster is not routed to before its first
// EDS answer.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { XdsControlPlane, TYPE_URLS, adsBootstrap, edsCluster, loadAssignment, rdsListener, routeConfig, type XdsSnapshot } from '../support/xds-control-plane.ts';

type Obj = Record<string, unknown>;
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** An HCM whose inline route table sends everything to `cluster` and tags responses with `tag`. */
function hcmFilter(statPrefix: string, tag: string, cluster = 'backend', serverName = 'legate'): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM,
      stat_prefix: statPrefix,
      server_name: serverName,
      route_config: routeConfig(`${statPrefix}_route`, cluster, tag),
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
    },
  };
}

function listener(name: string, extra: Obj): Obj {
  return { name, address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, ...extra };
}

interface State {
  version: string;
  mainTag: string;
  /** per_connection_buffer_limit_bytes of 'main': a listener-level field (changing it modifies the listener). */
  mainBuffer: number;
  multiTag: string;
  warmCluster: string;
  c2Endpoints: boolean;
}

function snapshotOf(s: State, holdPort: number, bPort: number): XdsSnapshot {
  const cds = [edsCluster('backend')];
  const eds = [loadAssignment('backend', [holdPort])];
  if (s.warmCluster === 'c2') cds.push(edsCluster('c2'));
  if (s.c2Endpoints) eds.push(loadAssignment('c2', [bPort]));
  return {
    version: s.version,
    resources: {
      lds: [
        listener('main', { per_connection_buffer_limit_bytes: { value: s.mainBuffer }, filter_chains: [{ filters: [hcmFilter('main', s.mainTag)] }] }),
        listener('other', { filter_chains: [{ filters: [hcmFilter('other', 'o1')] }] }),
        // Connections from 127.0.0.2 take the first chain; the rest the default chain.
        listener('multi', {
          filter_chains: [{
            name: 'from_2',
            filter_chain_match: { source_prefix_ranges: [{ address_prefix: '127.0.0.2', prefix_len: { value: 32 } }] },
            // The chain's server_name changes with multiTag (a new inline route table alone would not drain it).
            filters: [hcmFilter('multi_a', s.multiTag, 'backend', `server-${s.multiTag}`)],
          }],
          default_filter_chain: { filters: [hcmFilter('multi_d', 'd1')] },
        }),
        { ...rdsListener('warm', 0, 'warm_route') },
      ],
      rds: [routeConfig('warm_route', s.warmCluster, 'w')],
      cds,
      eds,
    },
  };
}

interface H1Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** One raw HTTP/1.1 keep-alive connection: requests one at a time, responses with content-length. */
class H1Connection {
  readonly socket: net.Socket;
  private buf = '';
  closed = false;
  private onChange: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.onChange?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.onChange?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number, localAddress = '127.0.0.1'): Promise<H1Connection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(new H1Connection(s)));
      s.once('error', reject);
    });
  }

  /** Sends GET path; resolves with the response. */
  request(path: string, timeoutMs = 10_000): Promise<H1Response> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: test\r\n\r\n`);
    return this.waitFor(() => this.parse(), timeoutMs, `a response to ${path}`);
  }

  waitClosed(timeoutMs = 10_000): Promise<true> {
    return this.waitFor(() => (this.closed ? true : null), timeoutMs, 'the server to close the connection');
  }

  private parse(): H1Response | null {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.buf.slice(0, end).split('\r\n');
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    const status = Number(lines[0]!.split(' ')[1]);
    if (headers.get('transfer-encoding') === 'chunked') {
      let at = end + 4;
      let body = '';
      for (;;) {
        const eol = this.buf.indexOf('\r\n', at);
        if (eol < 0) return null;
        const size = Number.parseInt(this.buf.slice(at, eol), 16);
        if (this.buf.length < eol + 2 + size + 2) return null;
        body += this.buf.slice(eol + 2, eol + 2 + size);
        at = eol + 2 + size + 2;
        if (size === 0) break;
      }
      this.buf = this.buf.slice(at);
      return { status, headers, body };
    }
    const len = Number(headers.get('content-length') ?? '0');
    if (this.buf.length < end + 4 + len) return null;
    const body = this.buf.slice(end + 4, end + 4 + len);
    this.buf = this.buf.slice(end + 4 + len);
    return { status, headers, body };
  }

  private waitFor<T>(check: () => T | null, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onChange = null;
        reject(new Error(`timed out waiting for ${what}; have: ${JSON.stringify(this.buf)}`));
      }, timeoutMs);
      const run = (): void => {
        const v = check();
        if (v !== null) {
          clearTimeout(timer);
          this.onChange = null;
          resolve(v);
        } else if (this.closed) {
          clearTimeout(timer);
          this.onChange = null;
          reject(new Error(`connection closed while waiting for ${what}; have: ${JSON.stringify(this.buf)}`));
        }
      };
      this.onChange = run;
      run();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A tag of a response on a fresh connection (new connections take the current filter chains). */
async function freshTag(port: number, localAddress = '127.0.0.1'): Promise<string | undefined> {
  const c = await H1Connection.open(port, localAddress);
  try {
    return (await c.request('/')).headers.get('x-route-tag');
  } finally {
    c.close();
  }
}

describe('xds: listener updates (warming, draining, in-place filter chain updates)', () => {
  let cp: XdsControlPlane;
  let legate: LegateProcess;
  let hold: http.Server;
  let b: TestUpstream;
  let held: http.ServerResponse[] = [];
  let state: State;
  const conns: H1Connection[] = [];
  let ports: Record<string, number>;

  const apply = (next: Partial<State>): void => {
    state = { ...state, ...next };
    cp.setSnapshot(snapshotOf(state, (hold.address() as net.AddressInfo).port, b.port));
  };
  const open = async (port: number, localAddress?: string): Promise<H1Connection> => {
    const c = await H1Connection.open(port, localAddress);
    conns.push(c);
    return c;
  };

  before(async () => {
    // The backend: answers at once, except /hold, which waits until the test releases it.
    hold = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/hold') {
          held.push(res);
          return;
        }
        res.writeHead(200, { 'x-upstream': 'a' });
        res.end('a');
      });
    });
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
    b = await startUpstream('b');
    cp = await new XdsControlPlane().start();
    state = { version: 'v1', mainTag: 'v1', mainBuffer: 1048576, multiTag: 'a1', warmCluster: 'backend', c2Endpoints: false };
    apply({});
    legate = await startLegate({ config: adsBootstrap(cp.port), concurrency: 1, args: ['--drain-time-s', '10'] });
    await waitUntil(async () => Object.keys(await legate.listenerPorts()).length === 4, () => 'the four listeners never came', 20_000);
    ports = await legate.listenerPorts();
  });

  after(async () => {
    for (const c of conns) c.close();
    for (const r of held) r.destroy();
    await legate?.stop();
    cp?.stop();
    hold?.closeAllConnections();
    hold?.close();
    await b?.close();
  });

  it('a modified listener: a response in flight says connection: close, new connections see the new route, another listener is untouched', async () => {
    const main = ports['main']!;
    const other = await open(ports['other']!);
    assert.equal((await other.request('/')).headers.get('x-route-tag'), 'o1');
    const inflight = await open(main);
    const pending = inflight.request('/hold');
    await waitUntil(() => held.length === 1, () => 'the upstream never saw /hold', 10_000);

    // per_connection_buffer_limit_bytes is the listener's own: the listener is modified, not updated in place.
    apply({ version: 'v2', mainTag: 'v2', mainBuffer: 65536 });
    await waitUntil(async () => (await freshTag(main)) === 'v2', () => 'new connections never saw the new route', 20_000);
    assert.equal(await legate.listenerPort('main'), main, 'the socket stays');

    held.shift()!.end('held');
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'held');
    assert.equal(r.headers.get('connection'), 'close', 'the draining connection says close');
    assert.equal(r.headers.get('x-route-tag'), 'v1', 'the request in flight finishes on the chain it started on');
    await inflight.waitClosed();

    // The other listener: same connection, no drain.
    const again = await other.request('/');
    assert.equal(again.headers.get('x-route-tag'), 'o1', JSON.stringify([...again.headers]));
    assert.equal(again.headers.get('connection'), undefined);
    assert.equal(other.closed, false);

    const stats = await legate.statsMap();
    assert.equal(stats.get('listener_manager.listener_modified'), 1);
    assert.equal(stats.get('listener_manager.listener_in_place_updated') ?? 0, 0);
    assert.ok((stats.get('listener_manager.total_listeners_draining') ?? 0) >= 1, 'the old listener drains');
    assert.equal(stats.get('listener_manager.total_listeners_active'), 4);
  });

  it('an HTTP/2 connection of a modified listener gets GOAWAY', async () => {
    const main = ports['main']!;
    const session = http2.connect(`http://127.0.0.1:${main}`);
    session.on('error', () => {});
    try {
      const tag = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        req.on('response', (h) => resolve(String(h['x-route-tag'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      assert.equal(tag, 'v2');
      const goaway = new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no GOAWAY')), 20_000);
        session.once('goaway', (code: number) => {
          clearTimeout(t);
          resolve(code);
        });
      });
      apply({ version: 'v3', mainTag: 'v3', mainBuffer: 32768 });
      assert.equal(await goaway, 0, 'GOAWAY with NO_ERROR');
      await waitUntil(async () => (await freshTag(main)) === 'v3', () => 'new connections never saw the new route', 20_000);
    } finally {
      session.destroy();
    }
    assert.equal((await legate.statsMap()).get('listener_manager.listener_modified'), 2);
  });

  it('filter chains changed alone: in place, only the changed chain’s connections drain', async () => {
    const multi = ports['multi']!;
    const onA = await open(multi, '127.0.0.2');
    const onDefault = await open(multi, '127.0.0.1');
    assert.equal((await onA.request('/')).headers.get('server'), 'server-a1');
    assert.equal((await onDefault.request('/')).headers.get('x-route-tag'), 'd1');

    apply({ version: 'v4', multiTag: 'a2' });
    await waitUntil(async () => (await freshTag(multi, '127.0.0.2')) === 'a2', () => 'the changed chain never served', 20_000);
    // A route table changed alone (inline, as RDS) reaches the connections a chain has, without draining them.
    apply({ version: 'v4b', mainTag: 'v4b' });
    await waitUntil(async () => (await freshTag(ports['main']!)) === 'v4b', () => 'main never saw its new route table', 20_000);
    // The changed chain's connection says close on its next response (still on the chain it was accepted on);
    // the default chain's stays and serves on.
    const last = await onA.request('/');
    assert.equal(last.headers.get('connection'), 'close');
    assert.equal(last.headers.get('server'), 'server-a1', 'on the chain it was accepted on');
    await onA.waitClosed();
    const r = await onDefault.request('/');
    assert.equal(r.headers.get('x-route-tag'), 'd1');
    assert.equal(r.headers.get('connection'), undefined);
    assert.equal(onDefault.closed, false);

    const stats = await legate.statsMap();
    assert.equal(stats.get('listener_manager.listener_in_place_updated'), 1);
    assert.equal(stats.get('listener_manager.listener_modified'), 2, 'an in-place update is not a modification');
  });

  it('a new cluster is not routed to before its first EDS answer; the old version serves meanwhile', async () => {
    const warm = ports['warm']!;
    const c = await open(warm);
    assert.equal((await c.request('/')).headers.get('x-upstream'), 'a');
    const from = cp.requests.length;
    apply({ version: 'v5', warmCluster: 'c2' });
    // Legate asks for c2's endpoints; until they come the route table and cluster wait (warming).
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.eds && q.resourceNames.includes('c2'), 20_000, from);
    await cp.waitForRequest((q) => q.typeUrl === TYPE_URLS.rds && q.versionInfo === 'v5', 20_000, from);
    for (let i = 0; i < 3; i++) assert.equal((await c.request('/')).headers.get('x-upstream'), 'a', 'still the old route');
    assert.equal(await freshTag(warm), 'w');
    const warming = await legate.statsMap();
    assert.equal(warming.get('cluster_manager.warming_clusters'), 1, 'c2 warms');
    assert.equal(warming.get('cluster_manager.active_clusters'), 2, 'xds_cluster and backend');

    apply({ version: 'v6', c2Endpoints: true });
    await waitUntil(async () => (await c.request('/')).headers.get('x-upstream') === 'b', () => 'c2 never served', 20_000);
    // A route table change reaches the connections the listener has: no listener was modified.
    assert.equal(c.closed, false);
    const stats = await legate.statsMap();
    assert.equal(stats.get('cluster_manager.warming_clusters'), 0);
    assert.equal(stats.get('cluster_manager.active_clusters'), 3);
    assert.equal(stats.get('listener_manager.listener_modified'), 2);
    assert.equal(stats.get('listener_manager.listener_in_place_updated'), 1);
  });
});

describe('xds: a tcp_proxy chain that changes', () => {
  let cp: XdsControlPlane;
  let legate: LegateProcess;
  const echoes: net.Server[] = [];
  const sockets: net.Socket[] = [];

  /** A TCP server answering each read with "<name>:<what it read>". */
  async function echo(name: string): Promise<number> {
    const server = net.createServer((s) => {
      s.on('data', (d) => s.write(`${name}:${d.toString()}`));
      s.on('error', () => {});
    });
    echoes.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  function snapshot(version: string, cluster: string, aPort: number, bPort: number): XdsSnapshot {
    const tcp = {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster },
    };
    return {
      version,
      resources: {
        lds: [listener('tcp', { filter_chains: [{ filters: [tcp] }] })],
        cds: [edsCluster('ta'), edsCluster('tb')],
        eds: [loadAssignment('ta', [aPort]), loadAssignment('tb', [bPort])],
      },
    };
  }

  /** A connection through the listener, with what it has read so far. */
  async function connect(port: number): Promise<{ socket: net.Socket; read: () => string; closed: () => boolean }> {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let data = '';
    let closed = false;
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return { socket, read: () => data, closed: () => closed };
  }

  after(async () => {
    for (const s of sockets) s.destroy();
    await legate?.stop();
    cp?.stop();
    for (const e of echoes) e.close();
  });

  it('keeps its sessions until --drain-time-s, then closes them; new connections take the new chain', async () => {
    const aPort = await echo('a');
    const bPort = await echo('b');
    cp = await new XdsControlPlane().start();
    cp.setSnapshot(snapshot('t1', 'ta', aPort, bPort));
    legate = await startLegate({ config: adsBootstrap(cp.port), concurrency: 1, args: ['--drain-time-s', '2'] });
    await waitUntil(async () => (await legate.listenerPorts())['tcp'] !== undefined, () => 'no tcp listener', 20_000);
    const port = await legate.listenerPort('tcp');
    const old = await connect(port);
    old.socket.write('1');
    await waitUntil(() => old.read() === 'a:1', () => `old session read ${old.read()}`, 10_000);

    cp.setSnapshot(snapshot('t2', 'tb', aPort, bPort));
    await waitUntil(async () => {
      const c = await connect(port);
      c.socket.write('n');
      await waitUntil(() => c.read() !== '' || c.closed(), () => 'no answer', 10_000);
      c.socket.destroy();
      return c.read() === 'b:n';
    }, () => 'new connections never reached the new cluster', 20_000);
    // The session of the changed chain is not cut: it ends at the drain time.
    await waitUntil(() => old.closed(), () => 'the old session was never closed', 20_000);
    assert.match(old.read(), /^a:1/);
    const stats = await legate.statsMap();
    assert.equal(stats.get('listener_manager.listener_in_place_updated'), 1);
  });
});

describe('drain_type MODIFY_ONLY', () => {
  let legate: LegateProcess;
  let up: TestUpstream;
  const conns: H1Connection[] = [];

  after(async () => {
    for (const c of conns) c.close();
    await legate?.stop();
    await up?.close();
  });

  it('keeps a listener’s connections out of /drain_listeners?graceful; a DEFAULT listener’s drain', async () => {
    up = await startUpstream('backend');
    const route = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }];
    const config = bootstrap(
      [
        hcmListener({ name: 'modify_only', routes: route }).replace('    address:\n', '    drain_type: MODIFY_ONLY\n    address:\n'),
        hcmListener({ name: 'default', routes: route }),
      ],
      [cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: up.port }] })],
    );
    legate = await startLegate({ config, concurrency: 1 });
    const kept = await H1Connection.open(await legate.listenerPort('modify_only'));
    const drained = await H1Connection.open(await legate.listenerPort('default'));
    conns.push(kept, drained);
    assert.equal((await kept.request('/')).status, 200);
    assert.equal((await drained.request('/')).status, 200);
    assert.equal((await legate.admin('/drain_listeners?graceful', { method: 'POST' })).body, 'OK\n');
    await drained.waitClosed();
    const r = await kept.request('/');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('connection'), undefined);
    assert.equal(kept.closed, false);
  });
});
