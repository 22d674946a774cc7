// Any thread. The IMF-fixdate for the Date header, computed at most once per second.

let cachedSecond = -1;
let cachedValue = '';

export function httpDateNow(nowMs: number): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedValue = new Date(second * 1000).toUTCString();
  }
  return cachedValue;
}
