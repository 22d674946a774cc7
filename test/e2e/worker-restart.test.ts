// End to end: replacing dead workers with back-off. A worker that dies is replaced at once the first time; one
// that keeps dying is replaced after 100 ms, 200 ms, … (capped), so a worker that can never start does not make
// the primary spin, and the admin and the other workers go on serving meanwhile.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLegate } from '../support/legate-process.ts';
import { bootstrap, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';

function config(): string {
  return bootstrap([hcmListener({ name: 'l', routes: [{ match: '{ prefix: "/" }', action: 'direct_response: { status: 200, body: { inline_string: "served" } }' }] })], []);
}

/** The delays the primary logged for worker `index`'s replacements, in order. */
function restartDelays(stderr: string, index: number): number[] {
  const re = new RegExp(`worker ${index} exited \\(code \\d+\\); starting a replacement in (\\d+) ms`, 'g');
  return [...stderr.matchAll(re)].map((m) => Number(m[1]));
}

describe('worker restart back-off', () => {
  it('a worker that dies again right after its replacement started is replaced later each time', async () => {
    const legate = await startLegate({ config: config(), concurrency: 2 });
    const port = await legate.listenerPort('l');
    try {
      for (let i = 0; i < 4; i++) {
        const from = legate.stderr.length;
        legate.proc.kill('SIGUSR2'); // test hook: worker 0 throws
        // Its replacement is up again once it serves (the other worker answers meanwhile).
        await legate.waitForLog(/worker 0: replacement serving/, 10_000, from);
      }
      assert.deepEqual(restartDelays(legate.stderr, 0), [0, 100, 200, 400]);
      assert.equal((await curl([`http://127.0.0.1:${port}/`])).body, 'served');
      assert.equal((await legate.statsMap()).get('server.worker_restarts'), 4);
    } finally {
      await legate.stop();
    }
  });

  it('workers that die at every start are not restarted in a loop; the admin answers meanwhile', async () => {
    const legate = await startLegate({ config: config(), concurrency: 1, env: { LEGATE_TEST_CRASH_WORKER_AT_START: '1' } });
    try {
      await legate.waitForLog(/starting a replacement in 800 ms/, 20_000);
      const delays = restartDelays(legate.stderr, 0);
      assert.deepEqual(delays.slice(0, 5), [0, 100, 200, 400, 800]);
      assert.match(legate.stderr, /it died during start-up/);
      const stats = await legate.statsMap();
      assert.ok((stats.get('server.worker_restarts') ?? 0) >= 5);
      assert.equal(legate.exitCode, null);
    } finally {
      await legate.stop();
    }
  });
});
