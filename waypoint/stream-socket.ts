/**
 * node:http (client and server) running on an HTTP/2 stream instead of a TCP
 * socket, as the waypoint does on both sides of every HBONE tunnel. Three
 * Node 20 traps, all handled on the stream itself rather than with a wrapper
 * stream that would copy every chunk:
 *  - node:http touches net.Socket-only methods (setNoDelay, setKeepAlive,
 *    ref, unref); on a tunnel they mean nothing and become no-ops.
 *  - its C++ parser takes over any socket whose handle is a StreamBase (an
 *    Http2Stream's is) and would never see bytes put back with unshift
 *    (protocol sniffing does that); marking the handle as taken keeps parsing
 *    on JS 'data' events.
 *  - strings written to the stream in a corked batch (node:http writes every
 *    head as a latin1 string, usually batched with the body) arrive with
 *    their first 16 bytes garbled (seen in test/integration/waypoint-*), so
 *    strings become Buffers before they reach the stream. The same early free
 *    hit Buffers too; core/hbone/write-retention.ts now keeps every chunk
 *    written to an HBONE stream alive past its callback.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

export function asHttpSocket(stream: Duplex): Socket {
  const s = stream as Duplex & Partial<Socket> & { _handle?: { _consumed?: boolean } };
  const self = () => s as Socket;
  s.setNoDelay ??= self;
  s.setKeepAlive ??= self;
  s.ref ??= self;
  s.unref ??= self;
  if (s._handle) s._handle._consumed = true;
  const write = s.write.bind(s) as Write;
  s.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    if (typeof chunk !== 'string') return write(chunk, encoding, callback);
    const enc = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8';
    return write(Buffer.from(chunk, enc), typeof encoding === 'function' ? encoding : callback);
  }) as Duplex['write'];
  return s as Socket;
}
