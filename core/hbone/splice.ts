import type { Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { pipeCoalesced } from './coalesce.js';
import { H2_CONNECT_ERROR } from './errors.js';

export interface SpliceResult {
  /** Bytes that went from the HBONE stream into the socket. */
  bytesToSocket: number;
  /** Bytes that went from the socket into the HBONE stream. */
  bytesFromSocket: number;
  /** What ended the splice abnormally, if anything. */
  error?: { side: 'socket' | 'stream'; code: string };
}

/**
 * Joins a CONNECT stream and a TCP socket: bytes both ways with backpressure
 * (the source pauses while the destination's buffer is full; stream -> socket
 * writes are coalesced per event-loop turn, see coalesce.ts), half-close
 * carried across (END_STREAM -> FIN, FIN -> END_STREAM), and abortive closes
 * carried across as well (a TCP reset becomes RST_STREAM CONNECT_ERROR as
 * RFC 9113 §8.5 asks; a reset stream becomes a TCP RST), so neither end ever
 * mistakes a failure for a clean EOF.
 *
 * Serves both directions of the mesh: the server splices stream <-> upstream,
 * the daemon's outbound splices captured socket <-> client stream. The socket
 * must have been made with allowHalfOpen, or Node would end its write side as
 * soon as the peer's FIN arrives.
 *
 * Byte counts come from the socket's own counters at the end, so the data
 * path does no per-chunk bookkeeping.
 */
export function splice(stream: Http2Stream, socket: Socket, done?: (result: SpliceResult) => void): void {
  let error: SpliceResult['error'];
  let open = 2;
  const writtenBefore = socket.bytesWritten;
  const readBefore = socket.bytesRead;

  const finish = (): void => {
    if (--open > 0) return;
    done?.({ bytesToSocket: socket.bytesWritten - writtenBefore, bytesFromSocket: socket.bytesRead - readBefore, ...(error ? { error } : {}) });
  };

  socket.on('error', (err: NodeJS.ErrnoException) => {
    error ??= { side: 'socket', code: err.code ?? 'ERR_SOCKET' };
    resetStream(stream, H2_CONNECT_ERROR);
  });
  stream.on('error', (err: NodeJS.ErrnoException) => {
    error ??= { side: 'stream', code: err.code ?? 'ERR_STREAM' };
  });
  stream.once('close', () => {
    // Reset by either side, cut by a dying session, or closed before both
    // directions ended: the socket must see a reset, not a FIN, and must not
    // be left half-open with nobody reading it.
    if (aborted(stream) || !(stream.readableEnded && stream.writableFinished)) {
      error ??= { side: 'stream', code: `RST_${stream.rstCode ?? 'UNKNOWN'}` };
      if (!socket.destroyed) socket.resetAndDestroy();
    }
    finish();
  });
  socket.once('close', (hadError) => {
    if (hadError) resetStream(stream, H2_CONNECT_ERROR);
    finish();
  });

  // Node ends an Http2Stream's readable side on RST_STREAM and when its
  // session dies, not only on END_STREAM; only the last may become a FIN.
  pipeCoalesced(stream, socket);
  stream.once('end', () => {
    if (!aborted(stream)) socket.end();
  });
  socket.pipe(stream);
}

/**
 * Whether the stream ended abortively. By the time 'end' or 'close' is
 * emitted Node has recorded a received or sent RST code, and flagged
 * `aborted` when the stream closed while our side was still writing (a
 * session torn down reports rstCode 0 but sets that flag).
 */
export function aborted(stream: Http2Stream): boolean {
  return Boolean(stream.rstCode) || stream.aborted;
}

/**
 * RST_STREAM with `code`, and nothing before it. Http2Stream.close() first
 * ends the writable side when it is still open, which puts an END_STREAM on
 * the wire ahead of the RST: the peer then reads a clean EOF before the error
 * and a truncated transfer looks complete. Suppressing that one end() call
 * leaves only the RST; the stream is destroyed right after it anyway.
 */
export function resetStream(stream: Http2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  // Saved to be put back and called on the stream itself, never detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const end = stream.end;
  stream.end = function (this: Http2Stream) {
    return this;
  } as typeof stream.end;
  try {
    stream.close(code);
  } finally {
    stream.end = end;
  }
}
