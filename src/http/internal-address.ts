// Any thread (pure). Envoy's notion of an internal request source (Utility::isInternalAddress): RFC 1918, loopback
// and IPv6 unique-local addresses. Used for internal_only_headers and, later, x-envoy-internal.

export function isInternalAddress(ip: string): boolean {
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  if (ip.startsWith('10.') || ip.startsWith('127.') || ip.startsWith('192.168.')) return true;
  if (ip.startsWith('172.')) {
    const second = Number(ip.slice(4, ip.indexOf('.', 4)));
    return second >= 16 && second <= 31;
  }
  if (ip === '::1') return true;
  const c = ip.charCodeAt(0) | 0x20;
  // fc00::/7: fc.. and fd..
  return (c === 0x66 && ((ip.charCodeAt(1) | 0x20) === 0x63 || (ip.charCodeAt(1) | 0x20) === 0x64) && ip.indexOf(':') === 4);
}
