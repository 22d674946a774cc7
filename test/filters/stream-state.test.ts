// Dynamic metadata and filter state on StreamInfo, and the access log operators that read them
// (%DYNAMIC_METADATA(ns:key)%, %FILTER_STATE(key)%, %FILTER_STATE(key:PLAIN)%, %LOCAL_REPLY_BODY%).

import test from 'node:test';
import assert from 'node:assert/strict';
import { FILTER_STATE_READ_ONLY, StreamInfo } from '../../src/http/stream-info.ts';
import { compileJsonFormat, compileTextFormat, FormatError } from '../../src/access-log/formatter.ts';

test('nothing is allocated until a filter sets metadata or state', () => {
  const i = new StreamInfo();
  assert.equal(i.dynamicMetadata, null);
  assert.equal(i.filterState, null);
  assert.equal(i.getFilterState('x'), undefined);
});

test('setDynamicMetadata merges fields into a namespace', () => {
  const i = new StreamInfo();
  i.setDynamicMetadata('envoy.filters.http.jwt_authn', { sub: 'alice', claims: { iss: 'me', n: 3 } });
  i.setDynamicMetadata('envoy.filters.http.jwt_authn', { sub: 'bob', extra: true });
  i.setDynamicMetadata('other', { a: 1 });
  assert.deepEqual({ ...i.dynamicMetadata!['envoy.filters.http.jwt_authn'] }, { sub: 'bob', claims: { iss: 'me', n: 3 }, extra: true });
  assert.deepEqual({ ...i.dynamicMetadata!['other'] }, { a: 1 });
});

test('filter state: set, get, read-only objects are not overwritten', () => {
  const i = new StreamInfo();
  assert.equal(i.setFilterState('k', 'v1', false), '');
  assert.equal(i.setFilterState('k', 'v2', true), '');
  assert.equal(i.getFilterState('k'), 'v2');
  assert.equal(i.setFilterState('k', 'v3', false), FILTER_STATE_READ_ONLY);
  assert.equal(i.getFilterState('k'), 'v2');
});

test('%DYNAMIC_METADATA% in text: strings as is, structs as JSON, unset "-", length', () => {
  const i = new StreamInfo();
  const f = compileTextFormat('%DYNAMIC_METADATA(ns:sub)% %DYNAMIC_METADATA(ns:claims)% %DYNAMIC_METADATA(ns:claims:n)% ' +
    '%DYNAMIC_METADATA(ns:missing)% %DYNAMIC_METADATA(none)% %DYNAMIC_METADATA(ns:sub):3% %DYNAMIC_METADATA(ns:sub:deeper)%');
  assert.equal(f.format(i), '- - - - - - -');
  i.setDynamicMetadata('ns', { sub: 'alice', claims: { iss: 'me', n: 3 } });
  assert.equal(f.format(i), 'alice {"iss":"me","n":3} 3 - - ali -');
  assert.equal(compileTextFormat('%DYNAMIC_METADATA(ns)%').format(i), '{"sub":"alice","claims":{"iss":"me","n":3}}');
});

test('%DYNAMIC_METADATA% in typed JSON keeps the value\'s type', () => {
  const i = new StreamInfo();
  i.setDynamicMetadata('ns', { sub: 'alice', claims: { iss: 'me', n: 3 } });
  const f = compileJsonFormat({ s: '%DYNAMIC_METADATA(ns:sub)%', c: '%DYNAMIC_METADATA(ns:claims)%', n: '%DYNAMIC_METADATA(ns:claims:n)%', m: '%DYNAMIC_METADATA(ns:x)%' }, { omitEmptyValues: false });
  assert.deepEqual(JSON.parse(f.format(i)), { s: 'alice', c: { iss: 'me', n: 3 }, n: 3, m: null });
  const omit = compileJsonFormat({ m: '%DYNAMIC_METADATA(ns:x)%', s: '%DYNAMIC_METADATA(ns:sub)%' }, { omitEmptyValues: true });
  assert.deepEqual(JSON.parse(omit.format(i)), { s: 'alice' });
});

test('%FILTER_STATE%: serialized (quoted) by default, PLAIN as is; typed JSON gets the string', () => {
  const i = new StreamInfo();
  const f = compileTextFormat('%FILTER_STATE(k)% %FILTER_STATE(k:PLAIN)% %FILTER_STATE(k:TYPED)% %FILTER_STATE(other)% %FILTER_STATE(k:PLAIN):2%');
  assert.equal(f.format(i), '- - - - -');
  i.setFilterState('k', 'value', false);
  assert.equal(f.format(i), '"value" value "value" - va');
  const j = compileJsonFormat({ a: '%FILTER_STATE(k)%', b: '%FILTER_STATE(k:PLAIN)%', c: '%FILTER_STATE(nope)%' }, { omitEmptyValues: false });
  assert.deepEqual(JSON.parse(j.format(i)), { a: 'value', b: 'value', c: null });
});

test('%LOCAL_REPLY_BODY% is the local reply\'s body, unset otherwise', () => {
  const i = new StreamInfo();
  const f = compileTextFormat('[%LOCAL_REPLY_BODY%]');
  assert.equal(f.format(i), '[]');
  i.localReplyBody = 'no healthy upstream';
  assert.equal(f.format(i), '[no healthy upstream]');
});

test('malformed DYNAMIC_METADATA / FILTER_STATE arguments are refused', () => {
  for (const bad of ['%DYNAMIC_METADATA(ns::k)%', '%DYNAMIC_METADATA%', '%FILTER_STATE(k:WHAT)%', '%FILTER_STATE(k:PLAIN:x)%', '%FILTER_STATE()%']) {
    assert.throws(() => compileTextFormat(bad), FormatError, bad);
  }
  assert.throws(() => compileTextFormat('%FILTER_STATE(k:FIELD:f)%'), (e: unknown) => e instanceof FormatError && e.code === 'operator_not_supported');
});
