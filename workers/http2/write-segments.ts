// Worker thread. Writes what a FrameWriter handed over (take()) to a connection's socket as one write, corked when
// there is more than one segment: shared by the HTTP/2 server codec and the client codec.

import type net from 'node:net';

export function writeSegments(socket: net.Socket, segments: readonly Buffer[]): void {
  if (segments.length === 1) {
    socket.write(segments[0]!);
    return;
  }
  socket.cork();
  for (let i = 0; i < segments.length; i++) socket.write(segments[i]!);
  socket.uncork();
}

export function destroySocket(socket: net.Socket): void {
  socket.destroy();
}
