// The fuzz targets in make test: first every committed seed (and every minimized crash kept beside them) through
// each target in this process, then a short coverage-guided run of each target (@jazzer.js: libFuzzer over
// instrumented src/ and workers/). A finding fails the test with the input (hex and latin1), the fuzzer's output,
// and the input replayed here for an exact stack trace. FUZZ_TEST_SECONDS=<n> sets the run per target (default 5 s:
// make test keeps to its time budget); `make fuzz` is the long run (README.md).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { describeFinding, FUZZ_DIR, runFuzzTarget, TARGETS } from './fuzz-run.ts';

const SECONDS = Number(process.env.FUZZ_TEST_SECONDS ?? 5);

type Target = { fuzz(data: Buffer): void };

async function load(name: string): Promise<Target> {
  return (await import(path.join(FUZZ_DIR, 'targets', `${name}.ts`))) as Target;
}

describe('fuzz targets: the seed corpora pass', () => {
  for (const t of TARGETS) {
    it(`${t.name}: every input in test/fuzz/corpus/${t.name}`, async () => {
      const target = await load(t.name);
      const dir = path.join(FUZZ_DIR, 'corpus', t.name);
      const files = fs.readdirSync(dir);
      assert.ok(files.length > 0, `no seeds in ${dir}`);
      for (const f of files) {
        const data = fs.readFileSync(path.join(dir, f));
        assert.doesNotThrow(() => target.fuzz(data), `${t.name}: ${f} (${data.toString('hex')})`);
      }
    });
  }
});

describe(`fuzz targets: ${SECONDS} s of coverage-guided fuzzing each`, () => {
  for (const t of TARGETS) {
    it(`${t.name} finds nothing`, async () => {
      const r = await runFuzzTarget(t, { seconds: SECONDS });
      if (r.exitCode !== 0) {
        let replay = '(not replayed: only crash inputs are, never a timeout or out-of-memory one)';
        if (r.finding !== null && path.basename(r.findingPath).startsWith('crash-')) {
          try {
            (await load(t.name)).fuzz(r.finding);
            replay = 'does not fail when replayed in the test process';
          } catch (err) {
            replay = (err as Error).stack ?? String(err);
          }
        }
        assert.fail(`${describeFinding(r)}\n--- the input replayed in the test process ---\n${replay}`);
      }
      // It did fuzz: libFuzzer's final line names the executions it ran.
      assert.match(r.summary, /^#\d+\s+DONE\s+cov: \d+/, r.output.slice(-3000));
    });
  }
});
