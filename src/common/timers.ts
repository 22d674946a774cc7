// Any thread. The two timer moves every connection object repeats: arm a timer (or push back the one it has)
// and cancel one. Callbacks take their owner as an argument, so no closure is allocated per arm.

/** `timer` refreshed when it exists, else a new setTimeout(fire, ms, owner). Returns the timer to keep. */
export function armOrRefresh<T>(timer: NodeJS.Timeout | null, ms: number, fire: (owner: T) => void, owner: T): NodeJS.Timeout {
  if (timer === null) return setTimeout(fire, ms, owner);
  timer.refresh();
  return timer;
}

/** Clears `timer` if set; returns null, for `this.timer = cancelTimer(this.timer)`. */
export function cancelTimer(timer: NodeJS.Timeout | null): null {
  if (timer !== null) clearTimeout(timer);
  return null;
}
