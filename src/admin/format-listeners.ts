// Primary thread (pure). Envoy's /listeners: `name::address:port` lines, or ?format=json
// (envoy.admin.v3.Listeners).

import type { ListenerView } from './admin-context.ts';
import { hostAddressText } from './format-clusters.ts';

export function formatListenersText(listeners: readonly ListenerView[]): string {
  let out = '';
  for (const l of listeners) out += `${l.name}::${hostAddressText(l.address, l.port)}\n`;
  return out;
}

export function listenersJson(listeners: readonly ListenerView[]): object {
  return {
    listener_statuses: listeners.map((l) => ({
      name: l.name,
      local_address: { socket_address: { address: l.address, port_value: l.port } },
    })),
  };
}
