// Primary thread. The outlier ejection event log (bootstrap cluster_manager.outlier_detection.event_log_path):
// one JSON object per line, shaped as Envoy's OutlierDetectionEvent. Appends asynchronously; a write error is
// logged once and the log goes quiet.

import fs from 'node:fs';
import { log } from '../common/logger.ts';

export class OutlierEventLog {
  readonly path: string;
  private stream: fs.WriteStream | null;

  constructor(path: string) {
    this.path = path;
    this.stream = fs.createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => {
      log.warn(`outlier detection event log ${path}: ${err.message}`);
      this.stream = null;
    });
  }

  write(event: Record<string, unknown>): void {
    this.stream?.write(`${JSON.stringify(event)}\n`);
  }

  close(): void {
    this.stream?.end();
    this.stream = null;
  }
}

/** The bootstrap's cluster_manager.outlier_detection.event_log_path, or ''. */
export function outlierEventLogPath(bootstrap: Record<string, unknown>): string {
  const cm = bootstrap['cluster_manager'];
  if (cm === null || typeof cm !== 'object') return '';
  const od = (cm as Record<string, unknown>)['outlier_detection'];
  if (od === null || typeof od !== 'object') return '';
  const p = (od as Record<string, unknown>)['event_log_path'];
  return typeof p === 'string' ? p : '';
}
