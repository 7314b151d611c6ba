import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * Copies `source` into `socket` like `source.pipe(socket, { end: false })`,
 * but with the socket corked until the end of the event-loop turn, so the
 * chunks that arrived in one turn leave in one writev.
 *
 * Why: an HTTP/2 stream over TLS delivers one chunk per TLS record (16 KiB
 * at most), and pipe() writes each at once: one write syscall, and one trip
 * through the peer's TCP receive path, per 16 KiB. A single socket read of
 * the tunnel carries several records, so they surface in the same turn.
 * setImmediate, not nextTick: Node drains the nextTick queue after every
 * chunk it hands to JS, which would uncork between chunks.
 *
 * Backpressure is judged once per turn rather than per chunk: write()
 * reports a full buffer after the first 16 KiB, and pausing there would end
 * the coalescing. What one turn can add is bounded by the HTTP/2 stream
 * window, which bounds the memory anyway (pipe() parks the same bytes in the
 * stream's readable buffer instead). The source pauses at the end of a turn
 * that filled the socket and resumes on 'drain'.
 */
export function pipeCoalesced(source: Readable, socket: Socket): void {
  let corked = false;
  let full = false;
  const uncork = (): void => {
    corked = false;
    if (socket.destroyed) return;
    socket.uncork();
    // 'drain' comes on a later tick, after this pause.
    if (full) source.pause();
  };
  const onData = (chunk: Buffer): void => {
    if (socket.destroyed) return;
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    if (!socket.write(chunk)) full = true;
  };
  const onDrain = (): void => {
    full = false;
    source.resume();
  };
  const stop = (): void => {
    source.off('data', onData);
    socket.off('drain', onDrain);
  };
  source.on('data', onData);
  socket.on('drain', onDrain);
  socket.once('close', stop);
  source.once('end', stop);
}
