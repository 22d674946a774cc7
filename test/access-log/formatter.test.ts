// Formatter: every command operator, Envoy's default format, JSON typing and omission, truncation, errors.

import test from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { StreamInfo } from '../../src/http/stream-info.ts';
import { ResponseFlag } from '../../src/http/response-flags.ts';
import {
  compileHeaderValueFormat,
  compileJsonFormat,
  compileTextFormat,
  DEFAULT_FORMAT,
  FormatError,
} from '../../src/access-log/formatter.ts';

/** A request that went upstream and completed, with every StreamInfo field set. */
function fullInfo(): StreamInfo {
  const i = new StreamInfo();
  i.startTimeMs = Date.UTC(2016, 3, 15, 20, 17, 0, 310);
  i.startMonoMs = 5000;
  i.lastDownstreamRxMonoMs = 5012.9;
  i.firstUpstreamRxMonoMs = 5100.2;
  i.lastDownstreamTxMonoMs = 5226.7;
  i.protocol = 'HTTP/1.1';
  i.method = 'POST';
  i.path = '/api/v1/locations?x=1';
  i.authority = 'locations';
  i.scheme = 'http';
  i.requestHeaders = [
    'host', 'locations',
    'x-forwarded-for', '10.0.35.28',
    'user-agent', 'nsq2http',
    'x-request-id', 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2',
    'x-long', 'abcdefghij',
    'x-empty', '',
  ];
  i.responseHeaders = ['x-envoy-upstream-service-time', '100', 'content-type', 'text/plain'];
  i.responseTrailers = ['grpc-status', '0', 'grpc-message', 'fine'];
  i.responseCode = 204;
  i.responseCodeDetails = 'via_upstream';
  i.responseFlags = 0;
  i.bytesReceived = 154;
  i.bytesSent = 7;
  i.upstreamHost = '10.0.2.1:80';
  i.upstreamAttemptCount = 1;
  i.upstreamCluster = 'locations_cluster';
  i.upstreamLocalAddress = '10.0.0.5:43210';
  i.upstreamTransportFailureReason = null;
  i.downstreamRemoteAddress = '10.0.35.28:51000';
  i.downstreamDirectRemoteAddress = '127.0.0.1:52000';
  i.downstreamLocalAddress = '[::1]:10000';
  i.requestId = 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2';
  i.routeName = 'locations_route';
  i.connectionId = 42;
  i.upstreamServiceTimeMs = 100;
  return i;
}

function text(template: string, info: StreamInfo): string {
  return compileTextFormat(template).format(info);
}

test('default format is exactly Envoy\'s and renders its documented example', () => {
  assert.equal(
    DEFAULT_FORMAT,
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
      '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
      '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n',
  );
  const i = fullInfo();
  i.path = '/api/v1/locations';
  i.bytesSent = 0;
  i.startMonoMs = 0;
  i.lastDownstreamTxMonoMs = 226;
  assert.equal(
    text(DEFAULT_FORMAT, i),
    '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/1.1" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" ' +
      '"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"\n',
  );
});

test('default format of a request that never reached an upstream prints "-" for unset values', () => {
  const i = new StreamInfo();
  i.startTimeMs = Date.UTC(2020, 0, 2, 3, 4, 5, 6);
  i.method = 'GET';
  i.path = '/nope';
  i.authority = 'example.com';
  i.responseCode = 404;
  i.responseFlags = ResponseFlag.NoRouteFound;
  i.lastDownstreamTxMonoMs = 3.9;
  assert.equal(text(DEFAULT_FORMAT, i), '[2020-01-02T03:04:05.006Z] "GET /nope HTTP/1.1" 404 NR 0 0 3 - "-" "-" "-" "example.com" "-"\n');
});

test('X-ENVOY-ORIGINAL-PATH wins over :PATH when present', () => {
  const i = fullInfo();
  i.requestHeaders = ['x-envoy-original-path', '/before-rewrite'];
  assert.equal(text('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', i), '/before-rewrite');
  i.requestHeaders = [];
  assert.equal(text('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', i), '/api/v1/locations?x=1');
});

test('REQ: pseudo-headers, case-insensitive names, alternatives, truncation, empty vs missing', () => {
  const i = fullInfo();
  assert.equal(text('%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %REQ(:SCHEME)%', i), 'POST /api/v1/locations?x=1 locations http');
  assert.equal(text('%REQ(HOST)%', i), 'locations');
  assert.equal(text('%REQ(User-Agent)%', i), 'nsq2http');
  assert.equal(text('%REQ(X-MISSING)%', i), '-');
  assert.equal(text('%REQ(X-MISSING?USER-AGENT)%', i), 'nsq2http');
  assert.equal(text('%REQ(USER-AGENT?X-LONG)%', i), 'nsq2http');
  assert.equal(text('%REQ(X-MISSING?X-ALSO-MISSING)%', i), '-');
  assert.equal(text('%REQ(:PROTOCOL)%', i), '-');
  assert.equal(text('[%REQ(X-EMPTY)%]', i), '[]');
  // :Z truncates to Z characters, applied to whichever header matched.
  assert.equal(text('%REQ(X-LONG):4%', i), 'abcd');
  assert.equal(text('%REQ(X-MISSING?X-LONG):3%', i), 'abc');
  assert.equal(text('%REQ(X-LONG):100%', i), 'abcdefghij');
  assert.equal(text('%REQ(X-LONG):0%', i), '');
  assert.equal(text('%REQ(:PATH):8%', i), '/api/v1/');
  const noHeaders = new StreamInfo();
  assert.equal(text('%REQ(USER-AGENT)% %REQ(:METHOD)%', noHeaders), '- -');
});

test('RESP and TRAILER read response headers and trailers', () => {
  const i = fullInfo();
  assert.equal(text('%RESP(CONTENT-TYPE)% %RESP(:STATUS)% %RESP(X-NONE)% %RESP(X-NONE?CONTENT-TYPE):4%', i), 'text/plain 204 - text');
  assert.equal(text('%TRAILER(GRPC-STATUS)% %TRAILER(GRPC-MESSAGE):2% %TRAILER(X-NONE)% %TRAILER(X-NONE?GRPC-STATUS)%', i), '0 fi - 0');
  const none = new StreamInfo();
  assert.equal(text('%RESP(CONTENT-TYPE)% %RESP(:STATUS)% %TRAILER(GRPC-STATUS)%', none), '- - -');
});

test('response code, details and flags', () => {
  const i = fullInfo();
  assert.equal(text('%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %RESPONSE_FLAGS% %RESPONSE_FLAGS_LONG%', i), '204 via_upstream - -');
  i.responseCode = 0;
  i.responseCodeDetails = '';
  i.responseFlags = ResponseFlag.UpstreamConnectionFailure | ResponseFlag.NoHealthyUpstream | ResponseFlag.DownstreamConnectionTermination;
  assert.equal(text('%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %RESPONSE_FLAGS% %RESPONSE_FLAGS_LONG%', i), '0 - UH,UF,DC NoHealthyUpstream,UpstreamConnectionFailure,DownstreamConnectionTermination');
  i.responseFlags = ResponseFlag.OverloadManager | ResponseFlag.DropOverLoad;
  assert.equal(text('%RESPONSE_FLAGS_LONG%', i), 'OverloadManagerTerminated,DropOverload');
});

test('durations are whole milliseconds, "-" until the moment they measure has happened', () => {
  const i = fullInfo();
  assert.equal(text('%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', i), '226 12 100 126');
  i.firstUpstreamRxMonoMs = -1;
  assert.equal(text('%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', i), '226 12 - -');
  const fresh = new StreamInfo();
  assert.equal(text('%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', fresh), '- - - -');
});

test('bytes, protocol, route, connection, stream id, attempt count', () => {
  const i = fullInfo();
  assert.equal(
    text('%BYTES_RECEIVED% %BYTES_SENT% %PROTOCOL% %ROUTE_NAME% %CONNECTION_ID% %STREAM_ID% %UPSTREAM_REQUEST_ATTEMPT_COUNT%', i),
    '154 7 HTTP/1.1 locations_route 42 cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2 1',
  );
  const fresh = new StreamInfo();
  fresh.protocol = '';
  assert.equal(text('%BYTES_RECEIVED% %BYTES_SENT% %PROTOCOL% %ROUTE_NAME% %CONNECTION_ID% %STREAM_ID% %UPSTREAM_REQUEST_ATTEMPT_COUNT%', fresh), '0 0 - - 0 - 0');
});

test('upstream operators', () => {
  const i = fullInfo();
  i.upstreamTransportFailureReason = 'TLS_error:_certificate_verify_failed';
  assert.equal(
    text('%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %UPSTREAM_LOCAL_PORT% %UPSTREAM_TRANSPORT_FAILURE_REASON%', i),
    '10.0.2.1:80 locations_cluster 10.0.0.5:43210 10.0.0.5 43210 TLS_error:_certificate_verify_failed',
  );
  assert.equal(text('%UPSTREAM_REMOTE_ADDRESS% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT%', i), '10.0.2.1:80 10.0.2.1 80');
  const none = new StreamInfo();
  assert.equal(
    text('%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %UPSTREAM_LOCAL_PORT% %UPSTREAM_TRANSPORT_FAILURE_REASON% %UPSTREAM_REMOTE_PORT%', none),
    '- - - - - - -',
  );
});

test('downstream address operators, IPv4 and IPv6, with and without port', () => {
  const i = fullInfo();
  assert.equal(
    text('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT%', i),
    '10.0.35.28:51000 10.0.35.28 51000',
  );
  assert.equal(
    text('%DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_DIRECT_REMOTE_PORT%', i),
    '127.0.0.1:52000 127.0.0.1 52000',
  );
  assert.equal(
    text('%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT%', i),
    '[::1]:10000 ::1 10000',
  );
  const none = new StreamInfo();
  assert.equal(text('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT%', none), '- - -');
});

test('HOSTNAME, ENVIRONMENT and %% escapes', () => {
  const i = fullInfo();
  assert.equal(text('%HOSTNAME%', i), os.hostname());
  process.env['LEGATE_AL_TEST'] = 'from-env';
  assert.equal(text('%ENVIRONMENT(LEGATE_AL_TEST)% %ENVIRONMENT(LEGATE_AL_TEST):4% %ENVIRONMENT(LEGATE_AL_UNSET_VAR)%', i), 'from-env from -');
  assert.equal(text('100%% sure %%RESPONSE_CODE%% %RESPONSE_CODE%%%', i), '100% sure %RESPONSE_CODE% 204%');
  assert.equal(text('', i), '');
  assert.equal(text('plain', i), 'plain');
});

test('START_TIME: default ISO-8601 UTC with ms, custom strftime formats, %s and fractions', () => {
  const i = fullInfo();
  assert.equal(text('%START_TIME%', i), '2016-04-15T20:17:00.310Z');
  assert.equal(text('%START_TIME(%s)%', i), '1460751420');
  assert.equal(text('%START_TIME(%s.%3f)%', i), '1460751420.310');
  assert.equal(text('%START_TIME(%s.%6f)% %START_TIME(%s.%9f)% %START_TIME(%f)% %START_TIME(%1f)%', i), '1460751420.310000 1460751420.310000000 310000000 3');
  assert.equal(text('%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%', i), '2016-04-15T20:17:00.310Z');
  assert.equal(text('%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%', i), '2016/04/15T20:17:00+0000 1460751420');
  assert.equal(text('%START_TIME(%a %A %b %B %e %j %y %C %I %p %u %w %Z %%)%', i), 'Fri Friday Apr April 15 106 16 20 08 PM 5 5 GMT %');
  assert.equal(text('%START_TIME(%F %T|%D|%R|%r)%', i), '2016-04-15 20:17:00|04/15/16|20:17|08:17:00 PM');
  // The per-second cache must follow the time: a second later, and a millisecond later in the same second.
  const f = compileTextFormat('%START_TIME% %START_TIME(%H:%M:%S.%3f)%');
  assert.equal(f.format(i), '2016-04-15T20:17:00.310Z 20:17:00.310');
  i.startTimeMs += 1;
  assert.equal(f.format(i), '2016-04-15T20:17:00.311Z 20:17:00.311');
  i.startTimeMs += 1000;
  assert.equal(f.format(i), '2016-04-15T20:17:01.311Z 20:17:01.311');
  i.startTimeMs = Date.UTC(2024, 1, 29, 0, 0, 0, 0);
  assert.equal(f.format(i), '2024-02-29T00:00:00.000Z 00:00:00.000');
  assert.equal(text('%START_TIME(%e|%j|%I %p)%', i), '29|060|12 AM');
  i.startTimeMs = Date.UTC(2024, 2, 5, 0, 0, 0, 0);
  assert.equal(text('%START_TIME(%e|%j|%d)%', i), ' 5|065|05');
});

test('typed JSON: numbers for numeric operators, null when unset, strings otherwise, nesting and lists', () => {
  const i = fullInfo();
  i.upstreamHost = null;
  const f = compileJsonFormat(
    {
      status: '%RESPONSE_CODE%',
      duration: '%DURATION%',
      bytes: { in: '%BYTES_RECEIVED%', out: '%BYTES_SENT%' },
      port: '%DOWNSTREAM_REMOTE_PORT%',
      method: '%REQ(:METHOD)%',
      upstream: '%UPSTREAM_HOST%',
      missing_header: '%REQ(X-MISSING)%',
      flags: '%RESPONSE_FLAGS%',
      time: '%START_TIME%',
      mixed: 'took %DURATION%ms via %UPSTREAM_HOST%',
      constant: 'literal',
      version: 3,
      enabled: true,
      list: ['%PROTOCOL%', '%UPSTREAM_CLUSTER%', 1],
      'quote"key': '%REQ(X-LONG):3%',
    },
    { omitEmptyValues: false },
  );
  const line = f.format(i);
  assert.ok(line.endsWith('}\n'));
  assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
  assert.deepEqual(JSON.parse(line), {
    status: 204,
    duration: 226,
    bytes: { in: 154, out: 7 },
    port: 51000,
    method: 'POST',
    upstream: null,
    missing_header: null,
    flags: '-',
    time: '2016-04-15T20:17:00.310Z',
    mixed: 'took 226ms via -',
    constant: 'literal',
    version: 3,
    enabled: true,
    list: ['HTTP/1.1', 'locations_cluster', 1],
    'quote"key': 'abc',
  });
  // Keys come out in config order.
  assert.ok(line.startsWith('{"status":204,"duration":226,"bytes":{"in":154,"out":7}'));
});

test('JSON escapes header values', () => {
  const i = fullInfo();
  i.requestHeaders = ['user-agent', 'evil"\\\u0001 agent \ud800 é'];
  const line = compileJsonFormat({ ua: '%REQ(USER-AGENT)%' }, { omitEmptyValues: false }).format(i);
  assert.equal(JSON.parse(line).ua, 'evil"\\\u0001 agent \ud800 é');
});

test('JSON omit_empty_values drops unset keys and list items; text parts become ""', () => {
  const i = fullInfo();
  i.upstreamHost = null;
  i.routeName = '';
  const line = compileJsonFormat(
    { status: '%RESPONSE_CODE%', upstream: '%UPSTREAM_HOST%', nested: { route: '%ROUTE_NAME%' }, list: ['%ROUTE_NAME%', '%PROTOCOL%'], mixed: '[%UPSTREAM_HOST%]' },
    { omitEmptyValues: true },
  ).format(i);
  assert.deepEqual(JSON.parse(line), { status: 204, nested: {}, list: ['HTTP/1.1'], mixed: '[]' });
});

test('untyped JSON (FileAccessLog json_format) renders every value as a string, "-" when unset', () => {
  const i = fullInfo();
  i.upstreamHost = null;
  const line = compileJsonFormat({ status: '%RESPONSE_CODE%', upstream: '%UPSTREAM_HOST%' }, { omitEmptyValues: false, typed: false }).format(i);
  assert.deepEqual(JSON.parse(line), { status: '204', upstream: '-' });
});

test('JSON sort_properties orders keys', () => {
  const line = compileJsonFormat({ b: '%PROTOCOL%', a: { d: '1', c: '2' } }, { omitEmptyValues: false, sortProperties: true }).format(fullInfo());
  assert.equal(line, '{"a":{"c":"2","d":"1"},"b":"HTTP/1.1"}\n');
});

test('text omit_empty_values prints "" for unset values', () => {
  const f = compileTextFormat('[%UPSTREAM_HOST%] [%REQ(X-NONE)%] %RESPONSE_CODE%', { omitEmptyValues: true });
  assert.equal(f.format(new StreamInfo()), '[] [] 0');
});

test('header value formatter: same operators, unset is empty, no newline added', () => {
  const i = fullInfo();
  assert.equal(compileHeaderValueFormat('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%')(i), '10.0.35.28');
  assert.equal(compileHeaderValueFormat('%DOWNSTREAM_REMOTE_ADDRESS%')(i), '10.0.35.28:51000');
  assert.equal(compileHeaderValueFormat('static')(i), 'static');
  assert.equal(compileHeaderValueFormat('%UPSTREAM_HOST%')(new StreamInfo()), '');
  assert.equal(compileHeaderValueFormat('host=%REQ(:AUTHORITY)% 50%%')(i), 'host=locations 50%');
  assert.throws(() => compileHeaderValueFormat('%NOT_AN_OPERATOR%'), FormatError);
});

function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FormatError, `expected a FormatError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a FormatError');
}

test('unknown operators are a typed error naming the operator', () => {
  const e = formatError(() => compileTextFormat('[%START_TIME%] %REQUEST_ID%'));
  assert.equal(e.code, 'unknown_operator');
  assert.equal(e.operator, 'REQUEST_ID');
  assert.match(e.message, /unknown command operator %REQUEST_ID%/);
  const j = formatError(() => compileJsonFormat({ a: { b: '%BOGUS%' } }, { omitEmptyValues: false }));
  assert.equal(j.operator, 'BOGUS');
});

test('Envoy operators not implemented yet say so', () => {
  const e = formatError(() => compileTextFormat('%CLUSTER_METADATA(com.test:key)%'));
  assert.equal(e.code, 'operator_not_supported');
  assert.equal(e.operator, 'CLUSTER_METADATA');
  assert.match(e.message, /not supported yet/);
});

test('malformed formats are rejected', () => {
  const cases: [string, string][] = [
    ['%REQ%', 'REQ'], // parameter required
    ['%REQ()%', 'REQ'],
    ['%PROTOCOL(x)%', 'PROTOCOL'], // no parameter allowed
    ['%DURATION:10%', 'DURATION'], // no length allowed
    ['%START_TIME:5%', 'START_TIME'],
    ['%REQ(A?B?C)%', 'REQ'], // one alternative only
    ['%START_TIME(%Q)%', 'START_TIME'], // unsupported strftime specifier
    ['%START_TIME(%n)%', 'START_TIME'], // newline
  ];
  for (const [template, operator] of cases) {
    const e = formatError(() => compileTextFormat(template));
    assert.equal(e.operator, operator, template);
    assert.notEqual(e.code, 'unknown_operator', template);
  }
  for (const template of ['50%', '%REQ(:PATH)', '%req(:path)%', '%REQ(:PATH):x%', 'a % b']) {
    assert.equal(formatError(() => compileTextFormat(template)).code, 'bad_syntax', template);
  }
  assert.equal(formatError(() => compileJsonFormat({ a: null }, { omitEmptyValues: false })).code, 'bad_json_format');
});
