// Worker thread (called once per finished TLS handshake, never per request). Envoy's ssl.versions.<v>,
// ssl.ciphers.<name> and, where Node tells it (the client side: upstream connections), ssl.curves.<name>: the
// slots are the scope's lazily shown names (LISTENER_TLS_STATS, CLUSTER_TLS_STATS); a name outside the table is
// not counted. Envoy's ssl.sigalgs.<s> is not: Node does not say which signature algorithm the peer used.

import type tls from 'node:tls';

export function countHandshakeDetails(values: Float64Array, slots: Readonly<Record<string, number>>, socket: tls.TLSSocket, clientSide: boolean): void {
  const version = socket.getProtocol();
  if (version !== null) bump(values, slots[`ssl.versions.${version}`]);
  const cipher = socket.getCipher();
  if (cipher !== undefined && cipher !== null) bump(values, slots[`ssl.ciphers.${cipher.name}`]);
  if (clientSide) {
    const key = socket.getEphemeralKeyInfo() as { name?: string } | null;
    if (key !== null && typeof key.name === 'string') bump(values, slots[`ssl.curves.${key.name}`]);
  }
}

function bump(values: Float64Array, slot: number | undefined): void {
  if (slot !== undefined) values[slot]!++;
}
