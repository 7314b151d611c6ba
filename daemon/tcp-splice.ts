/**
 * Joins two TCP sockets (the same-node path, passthrough, inbound plaintext): bytes both ways
 * with backpressure, FIN carried across as FIN (half-close), a reset as a
 * reset. Both sockets must allow half-open.
 */
import { connect as tcpConnect, type Socket } from 'node:net';

export interface TcpSpliceResult {
  /** Bytes from `a` to `b`. */
  aToB: number;
  /** Bytes from `b` to `a`. */
  bToA: number;
  error?: string;
}

export function spliceSockets(a: Socket, b: Socket, done?: (result: TcpSpliceResult) => void): void {
  let error: string | undefined;
  let open = 2;
  const onError = (err: NodeJS.ErrnoException) => {
    error ??= err.code ?? 'ERR_SOCKET';
    if (!a.destroyed) a.resetAndDestroy();
    if (!b.destroyed) b.resetAndDestroy();
  };
  a.on('error', onError);
  b.on('error', onError);
  const closed = () => {
    if (--open > 0) return;
    done?.({ aToB: b.bytesWritten, bToA: a.bytesWritten, ...(error ? { error } : {}) });
  };
  a.once('close', closed);
  b.once('close', closed);
  a.pipe(b);
  b.pipe(a);
}

/** A plain TCP connection from the daemon (its uid is never captured), half-open allowed for spliceSockets. */
export function dialTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
