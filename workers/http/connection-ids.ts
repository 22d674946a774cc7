// Worker thread. Downstream connection ids (%CONNECTION_ID%): one sequence for every HTTP connection of this
// worker, whatever its protocol.

let next = 1;

export function nextConnectionId(): number {
  return next++;
}
