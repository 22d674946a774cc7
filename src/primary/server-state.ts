// Primary thread (pure constants). Envoy's server states, as /server_info and the server.state gauge report them.

export const ServerState = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 } as const;
