import type { Socket } from 'node:net';
import { HboneError } from './errors.js';

/**
 * Port 15008 faces the network, and every accepted TCP connection holds a
 * socket (and soon a TLS state) before the peer has proved anything. Without
 * a deadline a client that never sends a ClientHello, or stops halfway, holds
 * them until the kernel gives up (hours); without a bound per address one
 * host can hold thousands. So each connection gets `timeoutMs` from accept
 * until the handshake is complete — TLS done and the client's HTTP/2 SETTINGS
 * received, the first proof that it speaks HBONE — and one source address may
 * have at most `maxPendingPerAddress` connections not yet there; the excess
 * is closed at accept. Both are counted through `onRefused`.
 *
 * Connections are keyed by remote address and port, which the raw socket and
 * the TLS socket on top of it share, so the server can settle one from its
 * session without reaching into either socket's internals.
 */
export interface HandshakeLimits {
  /** From TCP accept to the client's SETTINGS. */
  timeoutMs: number;
  /** Unfinished handshakes one source address may have at once. */
  maxPendingPerAddress: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = { timeoutMs: 5_000, maxPendingPerAddress: 32 };

export class HandshakeGuard {
  readonly #limits: HandshakeLimits;
  readonly #onRefused: (peerAddress: string, error: HboneError) => void;
  /** Unfinished handshakes per source address. */
  readonly #pending = new Map<string, number>();
  /** What settles each unfinished connection, by `address port`. */
  readonly #settle = new Map<string, () => void>();

  constructor(limits: HandshakeLimits, onRefused: (peerAddress: string, error: HboneError) => void) {
    this.#limits = limits;
    this.#onRefused = onRefused;
  }

  /** Connections accepted and not yet through their handshake. */
  get pending(): number {
    return this.#settle.size;
  }

  /** On the server's 'connection': the raw TCP socket, before TLS. */
  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const key = `${address} ${socket.remotePort}`;
    const count = this.#pending.get(address) ?? 0;
    if (count >= this.#limits.maxPendingPerAddress) {
      socket.destroy();
      this.#onRefused(
        address,
        new HboneError('EHBONE_HANDSHAKE_LIMIT', `${address} already has ${count} unfinished HBONE handshakes`, { peerAddress: address, pending: count }),
      );
      return;
    }
    this.#pending.set(address, count + 1);
    const settle = (): void => {
      if (this.#settle.get(key) !== settle) return;
      this.#settle.delete(key);
      clearTimeout(timer);
      socket.off('close', settle);
      const left = (this.#pending.get(address) ?? 1) - 1;
      if (left > 0) this.#pending.set(address, left);
      else this.#pending.delete(address);
    };
    const timer = setTimeout(() => {
      settle();
      socket.destroy();
      this.#onRefused(
        address,
        new HboneError('EHBONE_HANDSHAKE_TIMEOUT', `HBONE handshake from ${address} not complete after ${this.#limits.timeoutMs} ms`, {
          peerAddress: address,
        }),
      );
    }, this.#limits.timeoutMs);
    timer.unref();
    this.#settle.set(key, settle);
    socket.once('close', settle);
  }

  /** The connection from `address`:`port` completed its handshake: the deadline and its place in the count are released. */
  settled(address: string | undefined, port: number | undefined): void {
    this.#settle.get(`${address ?? ''} ${port}`)?.();
  }
}
