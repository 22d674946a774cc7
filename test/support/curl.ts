// Test support: the real curl client.

import { execFile } from 'node:child_process';

export interface CurlResult {
  status: number;
  headers: Map<string, string[]>;
  body: string;
  exitCode: number;
}

/** A response header's values joined with ', ' (undefined when absent). */
export function header(r: CurlResult, name: string): string | undefined {
  return r.headers.get(name)?.join(', ');
}

/** Runs curl with -sS -i and parses status, headers (lower-case names) and body. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '-i', '--max-time', '20', ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      const exitCode = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      // Skip interim 1xx heads.
      let text = stdout;
      let headEnd = text.indexOf('\r\n\r\n');
      while (/^HTTP\/[\d.]+ 1\d\d/.test(text) && headEnd >= 0) {
        text = text.slice(headEnd + 4);
        headEnd = text.indexOf('\r\n\r\n');
      }
      const head = headEnd >= 0 ? text.slice(0, headEnd) : text;
      const body = headEnd >= 0 ? text.slice(headEnd + 4) : '';
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const name = line.slice(0, i).toLowerCase();
        const list = headers.get(name) ?? [];
        list.push(line.slice(i + 1).trim());
        headers.set(name, list);
      }
      resolve({ status, headers, body, exitCode });
    });
  });
}
