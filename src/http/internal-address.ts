// Any thread (pure). Envoy's notion of an internal request source, as the connection manager asks it once per
// request: src/snapshot/internal-address.ts builds the answer from the HCM's internal_address_config.

/** Whether a downstream address counts as internal for x-envoy-internal and header sanitizing. */
export interface InternalAddressPolicy {
  /** `ip` is the peer (use_remote_address) or the one x-forwarded-for address; '' for a unix-socket peer. */
  isInternal(ip: string): boolean;
}
