/**
 * A listener for connections iptables REDIRECTed to the daemon (outbound
 * 15001, inbound plaintext 15006): one server per address family, the sockets
 * it accepted tracked so a drain can wait for them and then end the rest.
 * REDIRECT delivers an IPv6 connection to [::1] or the interface's address,
 * so a host with IPv6 gets a second, IPv6-only server on the same port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { listenTcp, type ListenTarget } from '../core/net/listen-target.js';

export class CapturedListener {
  readonly #port: number;
  readonly #onSocket: (socket: Socket) => void;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  /** `onSocket` gets each accepted socket paused (pauseOnConnect) and half-open allowed. */
  constructor(port: number, onSocket: (socket: Socket) => void) {
    this.#port = port;
    this.#onSocket = onSocket;
  }

  /**
   * Listens on each target: the sockets systemd passed, or IPv4 and, where the
   * host has it, IPv6 bound here. Accept errors (EMFILE) are logged, never a crash.
   */
  async listen(targets: ListenTarget[] = ['0.0.0.0', '::'].map((host) => ({ kind: 'bind', host, port: this.#port })), log?: Logger): Promise<void> {
    for (const target of targets) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        this.#onSocket(socket);
      });
      try {
        await listenTcp(server, target);
        server.on('error', (err) => log?.warn({ err, port: this.#port }, 'listener error'));
        this.#servers.push(server);
      } catch (err) {
        if (target.kind === 'bind' && target.host === '::' && (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') continue;
        throw err;
      }
    }
  }

  /** Stops accepting; open connections finish unless `deadlineMs` passes, then they are destroyed. */
  async close(deadlineMs = 0): Promise<void> {
    // server.close() calls back only once every connection has closed: awaited first, one
    // connection that never ends (a half-closed one, say) held stop() past any deadline.
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.#sockets.size > 0 && deadlineMs > 0) {
      const until = Date.now() + deadlineMs;
      while (this.#sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  get activeConnections(): number {
    return this.#sockets.size;
  }

  /**
   * True when `socket` was dialled at this listener itself rather than
   * redirected to it: its original destination is its own address and port.
   * Proxying such a connection would make the daemon dial itself.
   */
  isDirect(socket: Socket, original: { address: string; port: number }): boolean {
    return original.port === this.#port && (original.address === socket.localAddress || original.address.endsWith(`:${socket.localAddress}`));
  }
}
