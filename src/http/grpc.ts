// Any thread (pure). The bits of gRPC-over-HTTP/2 the proxy itself reads and writes: status codes, the mapping
// from HTTP status for local replies (Envoy's Grpc::Utility::httpToGrpcStatus), and the grpc-timeout header.

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status a client gets for a local reply with HTTP status `status` (gRPC's HTTP-to-gRPC mapping). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/**
 * grpc-timeout ("1-8 digits" + unit H M S m u n) in milliseconds, rounded up so a positive timeout never becomes 0;
 * -1 when absent or malformed (a malformed header is ignored, as Envoy does).
 */
export function parseGrpcTimeout(value: string | undefined): number {
  if (value === undefined) return -1;
  const n = value.length;
  if (n < 2 || n > 9) return -1;
  let amount = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    amount = amount * 10 + c;
  }
  switch (value.charCodeAt(n - 1)) {
    case 72: /* H */ return amount * 3_600_000;
    case 77: /* M */ return amount * 60_000;
    case 83: /* S */ return amount * 1000;
    case 109: /* m */ return amount;
    case 117: /* u */ return Math.ceil(amount / 1000);
    case 110: /* n */ return Math.ceil(amount / 1_000_000);
    default: return -1;
  }
}

/** A gRPC request's content-type, as Envoy's Grpc::Common::hasGrpcContentType: application/grpc[+x][;params]. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.startsWith('application/grpc')) return false;
  if (contentType.length === 16) return true;
  const c = contentType.charCodeAt(16);
  return c === 43 /* + */ || c === 59 /* ; */;
}
