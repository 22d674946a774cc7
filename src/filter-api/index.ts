// Worker thread (user filters). The public API of Legate's TypeScript HTTP filters (docs/FILTERS.md): a user's
// filter module imports what it needs from here. The filter interface and its statuses are the built-in filters'
// own (workers/http/filters/http-filter.ts, re-exported, nothing else of the worker comes with them), so a user
// filter is written exactly like cors-filter.ts or local-ratelimit-filter.ts.

export {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter,
} from '../../workers/http/filters/http-filter.ts';
export type {
  FilterCallbacks, StreamDecoderFilter, StreamEncoderFilter, StreamFilter,
} from '../../workers/http/filters/http-filter.ts';
export type { HeaderList, StreamInfo } from '../http/stream-info.ts';
export type { Route } from '../router/route-table.ts';
export { HeaderMap, headersOf } from './header-map.ts';
export { defineFilter } from './define-filter.ts';
export type {
  Counter, FilterContext, FilterDefinition, Gauge, Histogram, HttpCallRequest, HttpCallResponse, StatsDeclaration,
  UserFilterCallbacks, UserFilterFactory,
} from './define-filter.ts';
