// Worker thread. local_reply_config at work (Envoy's LocalReply::rewrite): every local reply (the connection
// manager's, the router's, a filter's sendLocalReply, a codec error's) goes through the first mapper whose filter
// matches, in this order: its body, its headers_to_add (formatted with the original status), its status_code, then
// its body_format_override or else body_format formats the body (%LOCAL_REPLY_BODY% is the body so far) and sets the
// content-type. Built once per connection manager and config version; only exists when local_reply_config is set.

import type { HeaderList, StreamInfo } from '../../src/http/stream-info.ts';
import { AccessLogFilter } from '../../src/access-log/access-log-filter.ts';
import { compileHeaderValueFormat, compileJsonFormat, compileTextFormat, type Formatter } from '../../src/access-log/formatter.ts';
import { compileMutationLevel, type HeaderMutationLevel } from '../../src/router/header-mutations.ts';
import type { BodyFormatData, LocalReplyConfigData, ResponseMapperData } from '../../src/snapshot/local-reply-config.ts';

class BodyFormatter {
  readonly formatter: Formatter;
  readonly contentType: string;

  constructor(d: BodyFormatData) {
    const f = d.format;
    this.formatter = f.format === 'json'
      ? compileJsonFormat(f.json!, { omitEmptyValues: f.omitEmptyValues, typed: f.jsonTyped, sortProperties: f.sortProperties })
      : compileTextFormat(f.text, { omitEmptyValues: f.omitEmptyValues });
    this.contentType = d.contentType;
  }
}

class ResponseMapper {
  readonly filter: AccessLogFilter;
  readonly statusCode: number;
  readonly body: string | null;
  readonly headers: HeaderMutationLevel | null;
  readonly bodyFormat: BodyFormatter | null;

  constructor(d: ResponseMapperData) {
    this.filter = new AccessLogFilter(d.filter);
    this.statusCode = d.statusCode;
    this.body = d.body;
    // Validated on the primary: no problem can appear here.
    this.headers = compileMutationLevel(d.headersToAdd, undefined, '', '', compileHeaderValueFormat, []);
    this.bodyFormat = d.bodyFormat === null ? null : new BodyFormatter(d.bodyFormat);
  }
}

/** What a rewrite made of a local reply. */
export interface RewrittenReply {
  status: number;
  body: string;
  /** The content-type of a non-empty body. */
  contentType: string;
}

export class LocalReplyRewriter {
  private readonly mappers: readonly ResponseMapper[];
  private readonly bodyFormat: BodyFormatter | null;

  constructor(d: LocalReplyConfigData) {
    this.mappers = Object.freeze(d.mappers.map((m) => new ResponseMapper(m)));
    this.bodyFormat = d.bodyFormat === null ? null : new BodyFormatter(d.bodyFormat);
  }

  /**
   * Rewrites one local reply. `info.responseCode` is set to `status` first (the status_code filter reads it and the
   * formats print it); `headers` are the reply's headers so far (headers_to_add lands there). Per local reply only.
   */
  rewrite(info: StreamInfo, requestHeaders: HeaderList | null, headers: HeaderList, status: number, body: string, contentType: string): RewrittenReply {
    info.responseCode = status;
    let format = this.bodyFormat;
    const mappers = this.mappers;
    for (let i = 0; i < mappers.length; i++) {
      const m = mappers[i]!;
      if (!m.filter.evaluate(info, requestHeaders)) continue;
      if (m.body !== null) body = m.body;
      if (m.headers !== null) m.headers.apply(headers, info);
      if (m.statusCode !== 0) {
        status = m.statusCode;
        info.responseCode = status;
      }
      if (m.bodyFormat !== null) format = m.bodyFormat;
      break;
    }
    info.localReplyBody = body;
    if (format !== null) {
      body = format.formatter.format(info);
      contentType = format.contentType;
    }
    return { status, body, contentType };
  }
}
