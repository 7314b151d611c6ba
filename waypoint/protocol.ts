/**
 * Which HTTP a tunnel carries. A client speaking HTTP/2 with prior knowledge
 * (h2c) opens with the 24-byte connection preface; anything else is read as
 * HTTP/1.x. The bytes read to decide are put back before the chosen server
 * sees the stream.
 */
import type { Duplex } from 'node:stream';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Protocol = 'h1' | 'h2';

export function sniffProtocol(stream: Duplex, decided: (protocol: Protocol) => void): void {
  const seen: Buffer[] = [];
  let length = 0;
  const finish = (protocol: Protocol): void => {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.pause();
    if (length > 0) stream.unshift(seen.length === 1 ? seen[0]! : Buffer.concat(seen));
    decided(protocol);
  };
  const onData = (chunk: Buffer): void => {
    seen.push(chunk);
    length += chunk.length;
    const head = seen.length === 1 ? chunk : Buffer.concat(seen);
    const n = Math.min(head.length, PREFACE.length);
    if (head.compare(PREFACE, 0, n, 0, n) !== 0) finish('h1');
    else if (n === PREFACE.length) finish('h2');
  };
  // A tunnel that ends before deciding: let the HTTP/1 server see (and close) it.
  const onEnd = (): void => finish('h1');
  stream.on('data', onData);
  stream.once('end', onEnd);
}
