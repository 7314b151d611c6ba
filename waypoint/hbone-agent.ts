/**
 * An http.Agent whose "sockets" are HBONE CONNECT streams: http-proxy-3 (and
 * node:http under it) speak HTTP/1.1 to the endpoint through the peer
 * daemon's 15008, mTLS'd as the waypoint's own identity. No keep-alive: one
 * stream per upstream request, so a stream's life is exactly one request and
 * the connection circuit breaker counts streams in flight. Streams share the
 * HboneClient's pooled TLS session per peer node, so this costs a CONNECT
 * round trip, not a handshake.
 */
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WaypointError } from './errors.js';
import { asHttpSocket } from './stream-socket.js';

/** Opens the tunnel for one request; `host`/`port` are the endpoint's, as http-proxy-3 passes the target. */
export type Dial = (host: string, port: number) => Promise<Duplex>;

export class HboneAgent extends Agent {
  readonly #dial: Dial;

  constructor(dial: Dial) {
    super({ keepAlive: false });
    this.#dial = dial;
  }

  // node:http calls createConnection(options, oncreate) and waits for the
  // callback when nothing is returned: the async form Agent supports.
  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, socket: Socket) => void): Socket | undefined {
    const host = String(options.host ?? options.hostname ?? '');
    const port = Number(options.port);
    this.#dial(host, port).then(
      (stream) => callback?.(null, asHttpSocket(stream)),
      (err: unknown) => callback?.(new WaypointError('EWAYPOINT_CONNECT', `no HBONE stream to ${host}:${port}: ${(err as Error).message}`, { host, port }, { cause: err }), undefined as unknown as Socket),
    );
    return undefined;
  }
}
