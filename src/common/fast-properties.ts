// Any thread (pure). Objects read on the request path, rebuilt so V8 keeps them in fast mode.

/**
 * A copy of a record decoded from a thread message (a slot table, a config record) with V8 fast properties.
 * msgpackr builds objects by keyed stores, and V8 turns such an object with more than about 16 properties into a
 * dictionary: every `slots.x` on the request path would then be a hash lookup (measured: about 3% of a worker's
 * CPU for HcmSlots and HcmConfig). Object.fromEntries builds the same properties, in the same order, fast.
 */
export function withFastProperties<T extends object>(record: T): T {
  const copy = Object.fromEntries(Object.entries(record)) as T;
  return Object.isFrozen(record) ? Object.freeze(copy) : copy;
}
