/**
 * What a tunnel carries, from the client's first bytes: a client speaking
 * HTTP/2 with prior knowledge (h2c) opens with the 24-byte connection
 * preface; HTTP/1.x opens with a request line (`METHOD target HTTP/1.x`);
 * anything else is TCP for the VirtualService's tcp routes. Bytes are read
 * only until they rule out all but one answer, and are put back before the
 * chosen handler sees the stream.
 *
 * A client that sends nothing waits: Istio's default (no protocol detection
 * timeout), since an HTTP client may open a connection long before its first
 * request. `timeoutMs` gives server-first protocols on ports without tcp
 * routes a way through: silence that long means TCP.
 */
import type { Duplex } from 'node:stream';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** A request line longer than this is not one we would serve anyway. */
const MAX_REQUEST_LINE = 16 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSIONS = ['HTTP/1.1\r', 'HTTP/1.0\r', 'HTTP/1.1', 'HTTP/1.0'];

export type Protocol = 'h1' | 'h2' | 'tcp';

/** The protocol `head` shows, or undefined while more bytes could still tell. */
export function classify(head: Buffer): Protocol | undefined {
  const n = Math.min(head.length, PREFACE.length);
  if (head.compare(PREFACE, 0, n, 0, n) === 0) return n === PREFACE.length ? 'h2' : undefined;
  const nl = head.indexOf(0x0a);
  const line = head.subarray(0, nl < 0 ? Math.min(head.length, MAX_REQUEST_LINE) : nl).toString('latin1');
  const parts = line.split(' ');
  const [method = '', target, version] = parts;
  const complete = nl >= 0;
  if (parts.length > 3 || (method !== '' && !TOKEN.test(method)) || (complete && method === '')) return 'tcp';
  if (parts.length === 3 && (target === '' || !VERSIONS.some((v) => (complete ? v === version : v.startsWith(version ?? ''))))) return 'tcp';
  if (complete) return parts.length === 3 ? 'h1' : 'tcp';
  return head.length >= MAX_REQUEST_LINE ? 'tcp' : undefined;
}

export function sniffProtocol(stream: Duplex, decided: (protocol: Protocol) => void, timeoutMs = 0): void {
  const seen: Buffer[] = [];
  let length = 0;
  let timer: NodeJS.Timeout | undefined;
  const finish = (protocol: Protocol): void => {
    clearTimeout(timer);
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.pause();
    if (length > 0) stream.unshift(seen.length === 1 ? seen[0]! : Buffer.concat(seen));
    decided(protocol);
  };
  const onData = (chunk: Buffer): void => {
    seen.push(chunk);
    length += chunk.length;
    const p = classify(seen.length === 1 ? chunk : Buffer.concat(seen));
    if (p) finish(p);
  };
  // A tunnel that ends before deciding: let the HTTP/1 server see (and close) it.
  const onEnd = (): void => finish('h1');
  stream.on('data', onData);
  stream.once('end', onEnd);
  if (timeoutMs > 0) timer = setTimeout(() => finish(length === 0 ? 'tcp' : (classify(Buffer.concat(seen)) ?? 'tcp')), timeoutMs);
}
