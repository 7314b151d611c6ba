/**
 * Joins two HBONE streams, the caller's tunnel to the waypoint and the
 * waypoint's tunnel to the endpoint, the way core/hbone's splice joins a
 * stream and a TCP socket: bytes both ways with backpressure, a clean end
 * carried across as END_STREAM (the daemons at either end turn it into a
 * FIN), and an abortive close carried across as RST_STREAM CONNECT_ERROR,
 * so neither application mistakes a failure for a clean EOF.
 */
import type { Http2Stream } from 'node:http2';
import { aborted, H2_CONNECT_ERROR, resetStream } from '../core/hbone/index.js';

export interface StreamSpliceResult {
  /** Bytes from the first stream into the second. */
  forward: number;
  /** Bytes from the second stream into the first. */
  back: number;
  /** Which side ended abnormally, and how. */
  error?: { side: 'first' | 'second'; code: string };
}

export function spliceStreams(first: Http2Stream, second: Http2Stream, done: (result: StreamSpliceResult) => void): void {
  const result: StreamSpliceResult = { forward: 0, back: 0 };
  let open = 2;
  const carry = (from: Http2Stream, to: Http2Stream, count: (n: number) => void): void => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    // Node ends a stream's readable side on RST_STREAM too; only END_STREAM is a clean end.
    from.once('end', () => {
      if (!aborted(from)) to.end();
    });
  };
  const watch = (s: Http2Stream, other: Http2Stream, side: 'first' | 'second'): void => {
    s.on('error', (err: NodeJS.ErrnoException) => {
      result.error ??= { side, code: err.code ?? 'ERR_STREAM' };
    });
    s.once('close', () => {
      if (aborted(s) || !(s.readableEnded && s.writableFinished)) {
        result.error ??= { side, code: `RST_${s.rstCode ?? 'UNKNOWN'}` };
        resetStream(other, H2_CONNECT_ERROR);
      }
      if (--open === 0) done(result);
    });
  };
  carry(first, second, (n) => (result.forward += n));
  carry(second, first, (n) => (result.back += n));
  watch(first, second, 'first');
  watch(second, first, 'second');
  // A sniffed stream was paused to put its first bytes back.
  first.resume();
  second.resume();
}
