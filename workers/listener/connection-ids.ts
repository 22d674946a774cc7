// Worker thread. Downstream connection ids (%CONNECTION_ID%, and the key the listener tracks connections by): one
// sequence for every connection of this worker, HTTP or TCP, whatever its protocol.

let next = 1;

export function nextConnectionId(): number {
  return next++;
}
