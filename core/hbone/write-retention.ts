/**
 * Keeps each chunk written to an HBONE stream reachable for two event-loop
 * check phases after Node reports its write done.
 *
 * Why: on Node 20 an Http2Stream's write callback can come before nghttp2 has
 * serialized the bytes (frames go out from a native immediate), so a chunk
 * whose last JS reference was the write could be freed first, and the peer
 * then got malloc's free-list pointers in place of its first 16 bytes. The
 * waypoint's response bodies showed it (`test/integration/waypoint-body-integrity`:
 * 48 of 30,000 bodies with a 1 MiB young generation; none with the chunks
 * kept past the callback's next check phase). Holding a reference costs an
 * array slot per write; freeing stays the garbage collector's.
 */
import type { Duplex } from 'node:stream';

type Callback = (err?: Error | null) => void;
type Write = (chunk: unknown, encoding?: BufferEncoding | Callback, callback?: Callback) => boolean;

let current: unknown[] = [];
let previous: unknown[] = [];
let scheduled = false;

function rotate(): void {
  // What `previous` held is now two check phases past its callback.
  previous = current;
  current = [];
  scheduled = previous.length > 0;
  if (scheduled) setImmediate(rotate);
}

function keep(chunk: unknown): void {
  current.push(chunk);
  if (scheduled) return;
  scheduled = true;
  setImmediate(rotate);
}

type End = (chunk?: unknown, encoding?: BufferEncoding | Callback, callback?: Callback) => Duplex;

/** Makes `stream.write` (and `end(chunk)`, which bypasses it) keep every chunk alive past its callback, as above. */
export function retainWrites(stream: Duplex): void {
  const write = stream.write.bind(stream) as Write;
  const end = stream.end.bind(stream) as End;
  stream.write = ((chunk: unknown, encoding?: BufferEncoding | Callback, callback?: Callback): boolean => {
    const cb = typeof encoding === 'function' ? encoding : callback;
    const done: Callback = (err) => {
      keep(chunk);
      cb?.(err);
    };
    return typeof encoding === 'function' || encoding === undefined ? write(chunk, done) : write(chunk, encoding, done);
  }) as Duplex['write'];
  stream.end = ((chunk?: unknown, encoding?: BufferEncoding | Callback, callback?: Callback): Duplex => {
    if (typeof chunk === 'function' || chunk === undefined || chunk === null) return end(chunk);
    if (typeof encoding === 'function') {
      stream.write(chunk);
      return end(encoding);
    }
    stream.write(chunk, encoding as BufferEncoding);
    return end(callback);
  }) as Duplex['end'];
}
