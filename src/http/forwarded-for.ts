// Any thread (pure). Envoy's x-forwarded-for rules (use_remote_address, xff_num_trusted_hops, skip_xff_append).

/**
 * The client address Envoy trusts for this request: with use_remote_address the peer address itself (minus
 * trusted hops counted from the right of XFF when xff_num_trusted_hops > 0); without it, the address
 * xff_num_trusted_hops + 1 from the right of XFF, or the peer when XFF has too few entries.
 */
export function trustedClientAddress(
  xff: string | undefined,
  peerIp: string,
  useRemoteAddress: boolean,
  xffNumTrustedHops: number,
): string {
  if (useRemoteAddress && xffNumTrustedHops === 0) return peerIp;
  if (xff === undefined || xff === '') return peerIp;
  const parts = xff.split(',');
  const skip = useRemoteAddress ? xffNumTrustedHops - 1 : xffNumTrustedHops;
  const index = parts.length - 1 - skip;
  if (index < 0) return peerIp;
  const candidate = parts[index]!.trim();
  return candidate === '' ? peerIp : candidate;
}

/** The new x-forwarded-for value: the peer appended when Envoy appends (use_remote_address and not skip_xff_append). */
export function appendForwardedFor(xff: string | undefined, peerIp: string): string {
  return xff === undefined || xff === '' ? peerIp : `${xff}, ${peerIp}`;
}
