// Example TypeScript filter (docs/FILTERS.md): adds the configured headers to every response and removes others,
// and (with `uppercase_body: true`) rewrites the response body as it streams, chunk by chunk, without buffering it.

import {
  defineFilter, FilterDataStatus, FilterHeadersStatus, PassThroughFilter, type HeaderList, type UserFilterCallbacks,
} from '../../src/filter-api/index.ts';

interface ResponseHeaderConfig {
  add?: Record<string, string>;
  remove?: string[];
  uppercase_body?: boolean;
}

export default defineFilter<ResponseHeaderConfig>({
  create(config) {
    const add = Object.entries(config.add ?? {});
    const remove = config.remove ?? [];
    const uppercase = config.uppercase_body === true;

    class ResponseHeaderFilter extends PassThroughFilter {
      private readonly cb: UserFilterCallbacks;
      constructor(cb: UserFilterCallbacks) {
        super();
        this.cb = cb;
      }

      override encodeHeaders(headers: HeaderList): number {
        const h = this.cb.headers(headers);
        for (const [name, value] of add) h.set(name, value);
        for (const name of remove) h.remove(name);
        // The body's length may change: let the codec frame it (chunked / HTTP/2 DATA).
        if (uppercase) h.remove('content-length');
        return FilterHeadersStatus.Continue;
      }

      override encodeData(data: Buffer, endStream: boolean): number {
        if (!uppercase) return FilterDataStatus.Continue;
        // Each chunk is transformed and passed on at once: nothing is held back.
        this.cb.injectEncodedDataToFilterChain(Buffer.from(data.toString('utf8').toUpperCase()), endStream);
        return FilterDataStatus.StopIterationNoBuffer;
      }
    }
    return { createFilter: (cb) => new ResponseHeaderFilter(cb) };
  },
});
