// End to end: admin.access_log (and the deprecated admin.access_log_path) log every admin request, as Envoy's do,
// and reopen on SIGUSR1 like the other access logs.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startLegate, tempDir, type LegateProcess } from '../support/legate-process.ts';
import { waitUntil } from '../support/polling.ts';

function read(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

describe('admin access log', () => {
  let legate: LegateProcess;
  const dir = tempDir('legate-admin-log-');
  const typed = path.join(dir, 'admin.log');
  const legacy = path.join(dir, 'admin-legacy.log');

  before(async () => {
    legate = await startLegate({
      config: `admin:
  access_log_path: ${legacy}
  access_log:
  - name: envoy.access_loggers.file
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
      path: ${typed}
      log_format:
        text_format_source:
          inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %BYTES_SENT% %REQ(X-WHO)%\\n"
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources: {}
`,
    });
  });

  after(async () => {
    await legate?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one entry per admin request, in the configured format and in Envoy\'s default for access_log_path', async () => {
    const ready = await legate.admin('/ready', { headers: { 'x-who': 'operator' } });
    assert.equal(ready.status, 200);
    const reset = await legate.admin('/reset_counters', { method: 'POST' });
    assert.equal(reset.status, 200);
    const missing = await legate.admin('/no-such-endpoint');
    assert.equal(missing.status, 404);
    await waitUntil(() => read(typed).split('\n').length >= 4, () => `admin.log: ${JSON.stringify(read(typed))}`, 10_000);
    const lines = read(typed).trimEnd().split('\n');
    assert.equal(lines[0], `GET /ready 200 ${Buffer.byteLength(ready.body)} operator`);
    assert.equal(lines[1], `POST /reset_counters 200 ${Buffer.byteLength(reset.body)} -`);
    assert.match(lines[2]!, /^GET \/no-such-endpoint 404 \d+ -$/);
    await waitUntil(() => read(legacy).split('\n').length >= 4, () => `legacy log: ${JSON.stringify(read(legacy))}`, 10_000);
    assert.match(read(legacy), /^\[[^\]]+\] "GET \/ready HTTP\/1\.1" 200 - 0 \d+ \d+ - "-" "[^"]*" "-" "127\.0\.0\.1:\d+" "-"$/m);
  });

  it('reopens its file on SIGUSR1 (logrotate renames, then signals)', async () => {
    const rotated = `${typed}.1`;
    fs.renameSync(typed, rotated);
    legate.proc.kill('SIGUSR1');
    // The reopen is asynchronous: requests until one lands in the new file.
    await waitUntil(async () => {
      await legate.admin('/ready?after=rotate');
      return read(typed).includes('GET /ready?after=rotate 200');
    }, () => `after SIGUSR1: ${JSON.stringify(read(typed))}; rotated: ${JSON.stringify(read(rotated).slice(-300))}`, 10_000, 200);
    assert.ok(read(rotated).includes('GET /ready 200'), 'the rotated file keeps what was written before');
  });
});
