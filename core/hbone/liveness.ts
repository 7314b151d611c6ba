import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { HboneError } from './errors.js';

/**
 * One rule for both ends of a tunnel: a session lives no longer than its
 * transport, and a transport that stops answering is cut. Destroying the
 * session destroys every stream on it, and each splice then resets its
 * socket (splice.ts), so nothing a dead peer opened outlives it.
 *
 * Why this is needed: node:http2 stops reading a session's socket while one
 * of its own writes to it is pending (MaybeStopReading in node_http2.cc). A
 * peer that stops reading and then dies leaves exactly that: our write never
 * completes, so nobody reads the socket, the peer's RST sits in the kernel
 * unseen, no 'close' comes, and the session, its streams, their upstream
 * sockets and every buffered byte live forever (ambitd kept 620 streams and
 * 248 MB after such peers exited). Two guards, both idempotent:
 * - the socket's 'close' destroys the session: Node itself only close()s it,
 *   which waits for streams that can no longer finish;
 * - a PING every `intervalMs` must be answered within `timeoutMs`, or the
 *   session is destroyed: a reset we cannot read, a host that vanished, a
 *   peer that stopped reading its socket are all found within
 *   interval + timeout. A healthy peer answers PINGs even with every stream
 *   window full, since PING is not flow-controlled.
 */
export interface Keepalive {
  /** How often to PING a session (0 turns keepalive off). */
  intervalMs: number;
  /** How long a PING may go unanswered before the session is destroyed. */
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: Keepalive = { intervalMs: 10_000, timeoutMs: 10_000 };

export function bindLiveness(
  session: Http2Session,
  socket: Socket,
  keepalive: Keepalive,
  context: Record<string, unknown>,
  onTimeout: (error: HboneError) => void,
): void {
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearInterval(timer);
    clearTimeout(deadline);
  };
  socket.once('close', () => {
    stop();
    if (!session.destroyed) session.destroy();
  });
  session.once('close', stop);
  if (keepalive.intervalMs <= 0) return;
  timer = setInterval(() => {
    if (deadline || session.destroyed) return;
    deadline = setTimeout(() => {
      const error = new HboneError('EHBONE_KEEPALIVE_TIMEOUT', `HBONE peer did not answer a PING within ${keepalive.timeoutMs} ms`, context);
      onTimeout(error);
      // The socket first: Http2Session.destroy() waits for a pending write to
      // finish before it lets the socket go, and that write never will.
      socket.destroy();
      session.destroy();
    }, keepalive.timeoutMs);
    deadline.unref();
    try {
      session.ping((err) => {
        if (err) return; // the session is going away; its own 'close' stops us
        clearTimeout(deadline);
        deadline = undefined;
      });
    } catch {
      // ERR_HTTP2_PING_CANCEL / too many outstanding pings: the deadline decides.
    }
  }, keepalive.intervalMs);
  timer.unref();
}
