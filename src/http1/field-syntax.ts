// Any thread (pure). Checks for header names and values that did not come through the parser (config, filters),
// so they can be refused once at config time instead of being checked on every serialization.

import { FIELD_VALUE, TOKEN } from './char-tables.ts';

/** field-name = token (RFC 9110 §5.1). */
export function isValidHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) return false;
  }
  return true;
}

/** field-value: HTAB, SP, VCHAR, obs-text; no CR, LF, NUL or other controls (they would split the message). */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE[c] === 0) return false;
  }
  return true;
}
