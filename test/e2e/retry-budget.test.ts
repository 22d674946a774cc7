// End to end: circuit_breakers retry_budget through bin/legate with two workers. The budget replaces max_retries:
// the retries active at once over all workers may be budget_percent of the active plus pending requests, but at
// least min_retry_concurrency. The upstream answers each key's first attempt 503 and holds every later attempt
// until the test lets it go, so the retries in flight are known. The limit's arithmetic is tested in process.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startLegate, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { waitUntil } from '../support/polling.ts';
import { CbResource, CircuitBreaker, CircuitBreakerShared, retryLimit } from '../../src/upstream/circuit-breaker-shared.ts';
import { BREAKER_DEFAULTS, compileCircuitBreakers, type CircuitBreakerProblem } from '../../src/upstream/circuit-breakers.ts';

/** First attempt per x-test-key: 503 at once; later attempts: held until release(). */
class FailThenHoldUpstream {
  readonly server: http.Server;
  readonly attempts = new Map<string, number>();
  readonly held: http.ServerResponse[] = [];
  port = 0;

  constructor() {
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      req.resume();
      req.on('end', () => {
        const key = String(req.headers['x-test-key']);
        const n = (this.attempts.get(key) ?? 0) + 1;
        this.attempts.set(key, n);
        if (n === 1) res.writeHead(503, { 'content-length': '4' }).end('fail');
        else this.held.push(res);
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  release(): void {
    for (const res of this.held.splice(0)) res.writeHead(200, { 'content-length': '2' }).end('ok');
  }

  close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function get(port: number, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { 'x-test-key': key }, agent: false, timeout: 15_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

describe('retry_budget (the retry circuit breaker over all workers)', () => {
  let up: FailThenHoldUpstream;
  let legate: LegateProcess;
  let port = 0;

  before(async () => {
    up = await new FailThenHoldUpstream().listen();
    const retryPolicy = 'retry_policy: { retry_on: "5xx", num_retries: 1, retry_back_off: { base_interval: 0.001s, max_interval: 0.002s } }';
    legate = await startLegate({
      config: bootstrap(
        [hcmListener({ name: 'main', routes: [{ match: '{ prefix: "/" }', action: `route: { cluster: budgeted, ${retryPolicy} }` }] })],
        [cluster({
          name: 'budgeted',
          endpoints: [{ address: '127.0.0.1', port: up.port }],
          // 0% of the active requests: min_retry_concurrency (2, under max_retries' default 3) is the limit.
          extra: '    circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 0 }, min_retry_concurrency: 2 }, track_remaining: true }] }\n',
        })],
      ),
      concurrency: 2,
    });
    port = await legate.listenerPort('main');
  });

  after(async () => {
    await legate?.stop();
    await up?.close();
  });

  it('retries stop once the active retries reach the budget: upstream_rq_retry_overflow counts the rest', async () => {
    const statuses: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) statuses.push(get(port, `k${i}`));
    // Two retries are held at the upstream; the four others were refused and their 503 went to the client.
    await waitUntil(async () => {
      const s = await legate.statsMap();
      return (s.get('cluster.budgeted.upstream_rq_retry_overflow') ?? 0) === 4 && up.held.length === 2;
    }, () => `held ${up.held.length}, attempts ${JSON.stringify([...up.attempts])}`, 15_000);
    const s = await legate.statsMap();
    assert.equal(s.get('cluster.budgeted.circuit_breakers.default.rq_retry_open'), 1);
    assert.equal(s.get('cluster.budgeted.circuit_breakers.default.remaining_retries'), 0);
    up.release();
    const results = (await Promise.all(statuses)).sort();
    assert.deepEqual(results, [200, 200, 503, 503, 503, 503]);
    let total = 0;
    for (const n of up.attempts.values()) total += n;
    assert.equal(total, 8);
    const end = await legate.statsMap();
    assert.equal(end.get('cluster.budgeted.upstream_rq_retry'), 2);
    assert.equal(end.get('cluster.budgeted.upstream_rq_retry_overflow'), 4);
  });
});

describe('retry_budget limit and config', () => {
  it('is budget_percent of active + pending requests, at least min_retry_concurrency; max_retries without it', () => {
    const budget = { ...BREAKER_DEFAULTS, retryBudgetPercent: 25, minRetryConcurrency: 1 };
    assert.equal(retryLimit(budget, 0, 0), 1);
    assert.equal(retryLimit(budget, 4, 7), 2);
    assert.equal(retryLimit(budget, 10, 30), 10);
    assert.equal(retryLimit({ ...BREAKER_DEFAULTS, maxRetries: 7 }, 100, 100), 7);
  });

  it('a breaker with a budget takes retries by the requests it counts now', () => {
    const cb = new CircuitBreaker(new CircuitBreakerShared(null, 1), -1, { ...BREAKER_DEFAULTS, retryBudgetPercent: 50, minRetryConcurrency: 0 });
    assert.equal(cb.tryStartRetry(), false);
    for (let i = 0; i < 4; i++) assert.ok(cb.tryStartRequest());
    assert.ok(cb.tryStartRetry());
    assert.ok(cb.tryStartRetry());
    assert.equal(cb.tryStartRetry(), false);
    assert.equal(cb.heldCount(CbResource.RETRIES), 2);
    cb.endRetry();
    assert.ok(cb.tryStartRetry());
  });

  it('compiles Envoy\'s defaults (20%, 3) and refuses a bad percentage', () => {
    const problems: CircuitBreakerProblem[] = [];
    const cb = compileCircuitBreakers({ thresholds: [{ retry_budget: {} }] }, 'cb', problems);
    assert.deepEqual(problems, []);
    assert.equal(cb.default.retryBudgetPercent, 20);
    assert.equal(cb.default.minRetryConcurrency, 3);
    assert.equal(cb.high.retryBudgetPercent, -1);
    compileCircuitBreakers({ thresholds: [{ retry_budget: { budget_percent: { value: 120 } } }] }, 'cb', problems);
    assert.equal(problems.length, 1);
    assert.equal((problems[0] as CircuitBreakerProblem).path, 'cb.thresholds[0].retry_budget.budget_percent');
  });
});
