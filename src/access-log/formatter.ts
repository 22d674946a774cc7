// Any thread (pure; workers call format() on the request path). Envoy's substitution formatter: access log lines
// (text or JSON) and header values ("%DOWNSTREAM_REMOTE_ADDRESS%") from a StreamInfo. Formats are compiled once
// (parse, resolve operators) and format() is one loop over the compiled segments.

import type { StreamInfo } from '../http/stream-info.ts';
import { formatSegments, type Segment } from './command-operators.ts';
import { JsonFormat, type JsonFormatOptions } from './json-format.ts';
import { parseFormat } from './substitution-parser.ts';

export { FormatError, type FormatErrorCode } from './format-error.ts';
export type { JsonFormatOptions } from './json-format.ts';

/** Envoy's default access log format, used when a logger has no format of its own. */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

export interface TextFormatOptions {
  /** Unset values print "" instead of "-". */
  omitEmptyValues: boolean;
}

/**
 * A compiled format. format() runs on the worker's request path, once per access log per request. Each thread
 * compiles its own instances: format() updates the instance's once-a-second START_TIME cache.
 */
export class Formatter {
  private readonly segments: readonly Segment[];
  private readonly json: JsonFormat | null;
  private readonly emptyValue: string;

  constructor(segments: readonly Segment[], json: JsonFormat | null, emptyValue: string) {
    this.segments = segments;
    this.json = json;
    this.emptyValue = emptyValue;
  }

  format(info: StreamInfo): string {
    if (this.json !== null) return this.json.format(info);
    return formatSegments(this.segments, info, this.emptyValue);
  }
}

/** Compiles a text format; throws FormatError (unknown operator, bad syntax). Adds no newline: Envoy does not. */
export function compileTextFormat(template: string, opts?: TextFormatOptions): Formatter {
  return new Formatter(Object.freeze(parseFormat(template)), null, opts?.omitEmptyValues === true ? '' : '-');
}

/** Compiles a json_format struct; throws FormatError. Each line is one JSON object followed by "\n". */
export function compileJsonFormat(struct: Record<string, unknown>, opts: JsonFormatOptions): Formatter {
  return new Formatter(Object.freeze([]), new JsonFormat(struct, opts), '');
}

/**
 * Compiles a header value format (request_headers_to_add and friends); throws FormatError. Unset values are
 * empty, as Envoy formats header values; a value that formats to "" is meant to be skipped by the caller.
 */
export function compileHeaderValueFormat(template: string): (info: StreamInfo) => string {
  const formatter = compileTextFormat(template, { omitEmptyValues: true });
  return (info: StreamInfo): string => formatter.format(info);
}
