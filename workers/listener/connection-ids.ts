// Worker thread. Connection ids (%CONNECTION_ID%, the key the listener tracks connections by, the [C..] of the debug
// log): one sequence for every connection of this worker, HTTP or TCP, whatever its protocol, upstream HTTP/1.1
// connections included (as Envoy's, so that a [C..] names one connection).

let next = 1;

export function nextConnectionId(): number {
  return next++;
}
