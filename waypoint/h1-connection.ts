/**
 * One upstream HTTP/1.1 connection: an HBONE stream to an endpoint (through
 * the peer daemon's 15008, mTLS'd as the waypoint's identity) that node:http,
 * under http-proxy-3, sends requests on one at a time and keeps open between
 * them. node:http gets it through an Agent-like object made per request
 * (`agent()`), so the pool, not node's Agent, decides which connection a
 * request uses; node:http says when the connection is free again (response
 * complete, keep-alive on both sides) by emitting 'free' on it.
 *
 * A reused connection can turn out dead: the endpoint closed it while it sat
 * idle and the FIN crossed our next request. Whether the request's first
 * byte was written before the endpoint's end arrived is tracked, so the
 * router can tell "never sent, retry it elsewhere" (Envoy's
 * reset-before-request) from "sent, then reset" (a `reset` for retryOn).
 */
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Upstream } from './config.js';
import { WaypointError } from './errors.js';
import { asHttpSocket } from './stream-socket.js';
import { TunnelConnection } from './tunnel-connection.js';

/** What node:http's ClientRequest needs of an agent. */
export interface RequestAgent {
  keepAlive: boolean;
  protocol: string;
  defaultPort: number;
  addRequest(req: ClientRequest): void;
}

/** How long a gracefully closed idle connection may take to finish closing before it is reset. */
const CLOSE_GRACE_MS = 5000;

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;
type OnSocket = (socket: Socket | undefined, err?: Error) => void;

export class H1Connection extends TunnelConnection<Socket> {
  readonly protocol = 'h1' as const;
  #socket: Socket | undefined;
  /** The peer ended its side (the endpoint closed the connection). */
  #peerEnded = false;
  /** The current request's first byte went out while the connection was still open both ways. */
  #sent = false;

  /** Whether the current request's first byte left before the endpoint closed its side. */
  get requestSent(): boolean {
    return this.#sent;
  }

  /** The Agent-like object for one request on this connection (http.request `agent`). */
  agent(): RequestAgent {
    return {
      // The last request a connection may carry tells the endpoint so (Connection: close).
      keepAlive: !this.draining,
      protocol: 'http:',
      defaultPort: 80,
      addRequest: (req) => {
        const onSocket = req.onSocket.bind(req) as OnSocket;
        this.ready.then(
          (socket) => {
            if (socket.destroyed || this.#peerEnded) return onSocket(socket, staleError(this.upstream));
            (req as { reusedSocket: boolean }).reusedSocket = this.requests > 1;
            onSocket(socket);
          },
          (err: Error) => onSocket(undefined, err),
        );
      },
    };
  }

  abandon(): void {
    this.requests--;
    this.#free();
  }

  protected shutdown(graceful: boolean): void {
    const socket = this.#socket;
    if (!socket) return;
    if (!graceful) return void socket.destroy();
    // END_STREAM: the peer daemon passes it on as a FIN, the endpoint closes, the stream ends.
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  protected adopt(stream: Duplex): Socket {
    const socket = asHttpSocket(stream);
    this.#socket = socket;
    // node:http listens for errors only while a request is on it; an idle connection's reset must not crash the process.
    socket.on('error', () => undefined);
    socket.on('free', () => this.#free());
    socket.on('end', () => {
      this.#peerEnded = true;
      // While a request is on it, node:http sees the end too and fails or finishes that request.
      if (this.active === 0) this.close();
    });
    socket.once('close', () => this.gone());
    const write = socket.write.bind(socket) as Write;
    socket.write = (chunk: unknown, encoding?: unknown, callback?: unknown) => {
      if (!this.#sent) {
        if (this.#peerEnded || socket.destroyed) {
          socket.destroy(staleError(this.upstream));
          return false;
        }
        this.#sent = true;
      }
      return write(chunk, encoding, callback);
    };
    return socket;
  }

  #free(): void {
    this.active = 0;
    this.#sent = false;
    if (this.#peerEnded) {
      this.close();
      return;
    }
    this.events.released(this);
  }
}

function staleError(up: Upstream): WaypointError {
  return new WaypointError('EWAYPOINT_STALE', `the pooled connection to ${up.authority} was closed by the endpoint before the request was sent`, {
    endpoint: up.authority,
  });
}
