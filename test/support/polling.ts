// Test support: waiting on conditions that span several processes (a client, an upstream, Legate's stats) without
// asserting any timing: poll until true, or until a value stops changing.

/** Polls `check` every `everyMs`; rejects with "timed out waiting for <what()>" after timeoutMs. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: () => string, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until `value()` has not changed for quietMs (at most maxMs); returns it. Used before counting what arrived. */
export async function settle(value: () => number, quietMs = 200, maxMs = 5000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}
