// End to end: SIGHUP reloads under steady load lose no request; a bad file leaves the running config alone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { listenOnPortZero, startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { startUpstream, type TestUpstream } from '../support/upstreams.ts';
import { curl } from '../support/curl.ts';

function get(port: number, path: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', () => resolve(-1));
    });
    req.on('error', () => resolve(-1));
  });
}

describe('reload on SIGHUP', () => {
  let legate: LegateProcess;
  let a: TestUpstream;
  let b: TestUpstream;
  let port: number;
  let extraPort: number;

  function config(generation: number): string {
    const withExtras = generation % 2 === 1;
    const routes = [
      ...(withExtras ? [{ match: '{ prefix: "/b" }', action: 'route: { cluster: cluster_b }' }] : []),
      { match: '{ prefix: "/" }', action: 'route: { cluster: cluster_a }' },
    ];
    const listeners = [hcmListener({ name: 'main', statPrefix: 'main', routes })];
    if (withExtras) {
      listeners.push(hcmListener({ name: 'extra', routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200, body: { inline_string: "extra" } }' }] }));
    }
    const clusters = [cluster({ name: 'cluster_a', endpoints: [{ address: '127.0.0.1', port: a.port }] })];
    if (withExtras) clusters.push(cluster({ name: 'cluster_b', endpoints: [{ address: '127.0.0.1', port: b.port }] }));
    return bootstrap(listeners, clusters);
  }

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    legate = await startLegate({ config: config(0), concurrency: 2 });
    port = await legate.listenerPort('main');
  });

  after(async () => {
    await legate?.stop();
    await a?.close();
    await b?.close();
  });

  it('keeps serving with zero failed requests through 12 reloads that add and remove routes, clusters and a listener', async () => {
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 6 });
    let stop = false;
    let ok = 0;
    const failures: number[] = [];
    const loop = async (agent: http.Agent | false): Promise<void> => {
      while (!stop) {
        const s = await get(port, '/', agent);
        if (s === 200) ok++;
        else failures.push(s);
      }
    };
    const loops = [loop(keepAlive), loop(keepAlive), loop(keepAlive), loop(false), loop(false)];
    for (let gen = 1; gen <= 12; gen++) {
      legate.writeConfig(config(gen));
      const logFrom = legate.stderr.length;
      assert.equal(await legate.reload(), true, `reload ${gen} applied`);
      // One line says what changed, by name (+ added, ~ changed, - removed).
      const summary = gen % 2 === 1
        ? 'listeners +extra ~main; clusters +cluster_b; routes +extra_routes ~main_routes'
        : 'listeners ~main -extra; clusters -cluster_b; routes ~main_routes -extra_routes';
      assert.match(legate.stderr.slice(logFrom), new RegExp(`reloaded: config version \\d+: ${summary.replace(/[+~]/g, '\\$&')}\\n`));
      // The listener that stays keeps its port; the one added binds a port of its own each time (port_value 0).
      assert.equal(await legate.listenerPort('main'), port);
      if (gen % 2 === 1) extraPort = await legate.listenerPort('extra');
      const extra = await curl([`http://127.0.0.1:${extraPort}/`]);
      const viaB = await curl([`http://127.0.0.1:${port}/b`]);
      if (gen % 2 === 1) {
        assert.equal(extra.body, 'extra', 'added listener serves');
        assert.equal(viaB.headers.get('x-upstream')?.[0], 'b', 'added route and cluster serve');
      } else {
        assert.notEqual(extra.status, 200, 'removed listener no longer serves');
        assert.equal(viaB.headers.get('x-upstream')?.[0], 'a', 'removed route falls through to the catch-all');
      }
    }
    stop = true;
    await Promise.all(loops);
    keepAlive.destroy();
    assert.deepEqual(failures, [], 'no request failed');
    assert.ok(ok > 100, `steady load ran (${ok} requests)`);
    const stats = await legate.statsMap();
    assert.equal(stats.get('server.reload_success'), 12);
  });

  it('rejects a bad file, keeps the running config and counts the failure', async () => {
    const before = await legate.statsMap();
    legate.writeConfig(config(0).replace('connect_timeout: 1s', 'connect_timeout: 1s\n    conect_timeout: 2s'));
    const from = legate.stderr.length;
    assert.equal(await legate.reload(), false);
    const log = legate.stderr.slice(from);
    assert.match(log, /legate\.yaml:\d+:\d+: static_resources\.clusters\[0\]\.conect_timeout/);
    assert.match(log, /did you mean 'connect_timeout'/);
    const r = await curl([`http://127.0.0.1:${port}/`]);
    assert.equal(r.status, 200);
    const after = await legate.statsMap();
    assert.equal(after.get('server.reload_failed'), (before.get('server.reload_failed') ?? 0) + 1);
    assert.equal(after.get('server.reload_success'), before.get('server.reload_success'));
  });
});

describe('a reload whose new listener cannot bind', () => {
  it('is rejected whole: the old config keeps serving, /listeners does not list it, server.reload_failed counts it', async () => {
    const a = await startUpstream('a');
    const listenerOn = (p: number, name: string): string => hcmListener({ name, port: p, routes: [{ match: '{ prefix: "/" }', action: 'route: { cluster: cluster_a }' }] });
    const clusterA = cluster({ name: 'cluster_a', endpoints: [{ address: '127.0.0.1', port: a.port }] });
    const legate = await startLegate({ config: bootstrap([listenerOn(0, 'main')], [clusterA]), concurrency: 2 });
    const port = await legate.listenerPort('main');
    // Another process holds the port (no SO_REUSEPORT): no worker of Legate could bind it.
    const holder = net.createServer();
    const takenPort = await listenOnPortZero(holder);
    try {
      const before = await legate.statsMap();
      // The new version also changes the route of the listener that stays: none of it may go live.
      legate.writeConfig(bootstrap([hcmListener({ name: 'main', routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 201 }' }] }), listenerOn(takenPort, 'blocked')], [clusterA]));
      const from = legate.stderr.length;
      assert.equal(await legate.reload(), false);
      assert.match(legate.stderr.slice(from), new RegExp(`reload rejected[^]*listener 'blocked' cannot bind 127\\.0\\.0\\.1:${takenPort}: .*EADDRINUSE`));
      const r = await curl([`http://127.0.0.1:${port}/`]);
      assert.equal(r.status, 200, 'the old route still serves');
      assert.equal(r.headers.get('x-upstream')?.[0], 'a');
      const listeners = await legate.admin('/listeners?format=json');
      assert.doesNotMatch(listeners.body, /blocked/);
      const after = await legate.statsMap();
      assert.equal(after.get('server.reload_failed'), (before.get('server.reload_failed') ?? 0) + 1);
      assert.equal(after.get('server.reload_success'), before.get('server.reload_success'));
      // Once the port is free the same file applies.
      await new Promise<void>((res) => holder.close(() => res()));
      assert.equal(await legate.reload(), true);
      assert.equal((await curl([`http://127.0.0.1:${takenPort}/`])).headers.get('x-upstream')?.[0], 'a');
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).status, 201);
    } finally {
      if (holder.listening) await new Promise<void>((res) => holder.close(() => res()));
      await legate.stop();
      await a.close();
    }
  });
});
