// Example TypeScript filter (docs/FILTERS.md): asks an authorization service (a cluster) about each request before
// it goes on. The service gets GET <check_path> with the request's method, path and x-user headers; a 2xx lets the
// request through with the service's x-auth-user header added, anything else is answered 403, and a service that
// cannot be reached 503. The request waits (StopIteration) while the call is out; runAsync keeps a failure to
// this stream.

import {
  defineFilter, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks,
} from '../../src/filter-api/index.ts';

interface CallClusterConfig {
  cluster: string;
  check_path?: string;
  timeout_ms?: number;
}

export default defineFilter<CallClusterConfig>({
  stats: { counters: ['checks', 'denied', 'failed'] },
  create(config, context) {
    if (!context.hasCluster(config.cluster)) throw new Error(`no cluster '${config.cluster}'`);
    const checkPath = config.check_path ?? '/check';
    const timeoutMs = config.timeout_ms ?? 1000;
    const checks = context.counter('checks');
    const denied = context.counter('denied');
    const failed = context.counter('failed');

    class CallClusterFilter extends PassThroughFilter {
      private readonly cb: UserFilterCallbacks;
      constructor(cb: UserFilterCallbacks) {
        super();
        this.cb = cb;
      }

      override decodeHeaders(headers: HeaderList): number {
        const h = this.cb.headers(headers);
        checks.inc();
        this.cb.runAsync(async () => {
          let status = 0;
          let user = '';
          try {
            const r = await context.httpCall(config.cluster, {
              method: 'GET',
              path: checkPath,
              headers: { 'x-original-method': this.cb.streamInfo.method, 'x-original-path': this.cb.streamInfo.path, 'x-user': h.get('x-user') ?? '' },
              timeoutMs,
            });
            status = r.status;
            user = this.cb.headers(r.headers).get('x-auth-user') ?? '';
          } catch (err) {
            failed.inc();
            context.log.warn(`authorization service unreachable: ${(err as Error).message}`);
            this.cb.respond(503, 'authorization service unavailable');
            return;
          }
          if (this.cb.destroyed) return;
          if (status < 200 || status > 299) {
            denied.inc();
            this.cb.respond(403, 'denied by the authorization service');
            return;
          }
          if (user !== '') h.set('x-auth-user', user);
          this.cb.continueDecoding();
        });
        return FilterHeadersStatus.StopIteration;
      }
    }
    return { createFilter: (cb) => new CallClusterFilter(cb) };
  },
});
