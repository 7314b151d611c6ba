import type { Http2Stream } from 'node:http2';
import { Socket } from 'node:net';
import { pipeCoalesced } from './coalesce.js';
import { H2_CONNECT_ERROR } from './errors.js';

/** Either end of a splice: a TCP socket or an HBONE (HTTP/2 CONNECT) stream. */
export type SpliceEnd = Socket | Http2Stream;

export interface SpliceResult {
  /** Bytes that went from `a` into `b`. */
  aToB: number;
  /** Bytes that went from `b` into `a`. */
  bToA: number;
  /** What ended the splice abnormally, if anything: which end, and how (an errno code or `RST_<h2 code>`). */
  error?: { side: 'a' | 'b'; code: string };
}

/**
 * Joins two ends, every hop of the mesh with one function: the daemon's
 * outbound (captured socket <-> client stream), the HBONE server (stream <->
 * upstream socket), the same-node, passthrough and plaintext paths (socket <->
 * socket) and the waypoint's TCP proxy (stream <-> stream). So every hop gets
 * the same behaviour and the same speed work:
 *
 * - bytes both ways with backpressure; writes from a stream into a socket are
 *   coalesced per event-loop turn (coalesce.ts says why);
 * - a clean end carried across as a clean end (FIN <-> END_STREAM), so
 *   half-close works: sockets must have been made with allowHalfOpen, or Node
 *   would end their write side as soon as the peer's FIN arrives;
 * - an abortive close carried across as one (a TCP reset becomes RST_STREAM
 *   CONNECT_ERROR as RFC 9113 §8.5 asks, a reset stream a TCP RST), so
 *   neither application ever mistakes a failure for a clean EOF.
 *
 * Byte counts come from the sockets' own counters where there is a socket, so
 * the data path does no per-chunk bookkeeping; only stream <-> stream counts
 * chunks.
 */
export function splice(a: SpliceEnd, b: SpliceEnd, done?: (result: SpliceResult) => void): void {
  let error: SpliceResult['error'];
  let open = 2;
  const aToB = counter(a, b);
  const bToA = counter(b, a);
  const failed = (side: 'a' | 'b', code: string): void => {
    error ??= { side, code };
  };
  const finish = (): void => {
    if (--open > 0) return;
    done?.({ aToB: aToB(), bToA: bToA(), ...(error ? { error } : {}) });
  };
  watch(a, b, 'a', failed, finish);
  watch(b, a, 'b', failed, finish);
  carry(a, b);
  carry(b, a);
}

/** Bytes from one end into the other, read at the end of the splice. */
function counter(from: SpliceEnd, to: SpliceEnd): () => number {
  if (to instanceof Socket) {
    const before = to.bytesWritten;
    return () => to.bytesWritten - before;
  }
  if (from instanceof Socket) {
    const before = from.bytesRead;
    return () => from.bytesRead - before;
  }
  let n = 0;
  from.on('data', (chunk: Buffer) => (n += chunk.length));
  return () => n;
}

function carry(from: SpliceEnd, to: SpliceEnd): void {
  if (to instanceof Socket && !(from instanceof Socket)) pipeCoalesced(from, to);
  else from.pipe(to, { end: false });
  // Node ends an Http2Stream's readable side on RST_STREAM and when its
  // session dies, not only on END_STREAM; only the last may become a FIN.
  from.once('end', () => {
    if (from instanceof Socket || !aborted(from)) to.end();
  });
}

/** How an end failing or closing is recorded and carried to the other end. */
function watch(end: SpliceEnd, other: SpliceEnd, side: 'a' | 'b', failed: (side: 'a' | 'b', code: string) => void, finish: () => void): void {
  if (end instanceof Socket) {
    end.on('error', (err: NodeJS.ErrnoException) => {
      failed(side, err.code ?? 'ERR_SOCKET');
      abort(other);
    });
    end.once('close', (hadError) => {
      if (hadError) abort(other);
      finish();
    });
    return;
  }
  end.on('error', (err: NodeJS.ErrnoException) => failed(side, err.code ?? 'ERR_STREAM'));
  end.once('close', () => {
    // Reset by either side, cut by a dying session, or closed before both
    // directions ended: the other end must see a reset, not a clean end, and
    // must not be left half-open with nobody reading it.
    if (aborted(end) || !(end.readableEnded && end.writableFinished)) {
      failed(side, `RST_${end.rstCode ?? 'UNKNOWN'}`);
      abort(other);
    }
    finish();
  });
}

/** The abortive close of an end: a TCP RST, or RST_STREAM CONNECT_ERROR. */
function abort(end: SpliceEnd): void {
  if (end instanceof Socket) {
    if (!end.destroyed) end.resetAndDestroy();
  } else resetStream(end, H2_CONNECT_ERROR);
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
