// Micro bench: what a router-only request pays for the circuit breakers (src/upstream/circuit-breaker-shared.ts)
// with default thresholds: one max_requests unit taken and given back (an idle connection was ready), and with a
// wait for a connection, one max_pending_requests unit too. Shared-memory Atomics, as in a worker.
// Run: node_modules/.bin/node bench/micro/circuit-breaker.ts

import { CircuitBreaker, CircuitBreakerShared } from '../../src/upstream/circuit-breaker-shared.ts';
import { BREAKER_DEFAULTS } from '../../src/upstream/circuit-breakers.ts';

const region = new CircuitBreakerShared(null, 2);
const worker = new CircuitBreakerShared(region.buffer, 0, 1);
const breaker = new CircuitBreaker(worker, 10, BREAKER_DEFAULTS);

function bench(name: string, iterations: number, fn: () => number): number {
  let sink = 0;
  for (let i = 0; i < 1_000_000; i++) sink += fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(48)} ${ns.toFixed(1)} ns${sink === -1 ? '!' : ''}`);
  return ns;
}

const N = 20_000_000;
const base = bench('empty (loop overhead)', N, () => 1);
const rq = bench('request: tryStartRequest + endRequest', N, () => {
  const ok = breaker.tryStartRequest();
  breaker.endRequest();
  return ok ? 1 : 0;
});
const pending = bench('request that waits: + tryStartPending + endPending', N, () => {
  const p = breaker.tryStartPending();
  breaker.endPending();
  const ok = breaker.tryStartRequest();
  breaker.endRequest();
  return p && ok ? 1 : 0;
});
console.log(`per request: ${(rq - base).toFixed(1)} ns (idle connection), ${(pending - base).toFixed(1)} ns (waited)`);
