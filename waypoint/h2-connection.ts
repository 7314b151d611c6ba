/**
 * One upstream HTTP/2 connection: an h2c session (prior knowledge) over an
 * HBONE stream to an endpoint, carrying every request to that endpoint
 * concurrently, one HTTP/2 stream each. How many run at once is bounded by
 * the cluster's http2MaxRequests (the router's `request` breaker) and by the
 * endpoint's SETTINGS_MAX_CONCURRENT_STREAMS, which Node honours by holding
 * streams back.
 *
 * node:http2 runs the session over the tunnel through its JS stream wrapper
 * (the HBONE stream is not a net.Socket); none of stream-socket.ts's node:http
 * traps apply. A GOAWAY from the endpoint drains the session: requests in
 * flight finish, new ones go to a new session.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Upstream } from './config.js';
import type { ConnectionEvents, PooledConnection } from './connection-pool.js';
import { WaypointError } from './errors.js';

export class H2Connection implements PooledConnection {
  readonly protocol = 'h2' as const;
  readonly upstream: Upstream;
  requests = 0;
  active = 0;
  draining = false;
  readonly #events: ConnectionEvents;
  readonly #ready: Promise<ClientHttp2Session>;
  #session: ClientHttp2Session | undefined;
  #closed = false;

  constructor(upstream: Upstream, stream: Promise<Duplex>, events: ConnectionEvents) {
    this.upstream = upstream;
    this.#events = events;
    this.#ready = stream.then((s) => this.#adopt(s), (err: unknown) => {
      this.#gone();
      throw new WaypointError('EWAYPOINT_CONNECT', `no HBONE stream to ${upstream.authority}: ${(err as Error).message}`, { endpoint: upstream.authority }, { cause: err });
    });
    // Each request reports a dial failure itself.
    this.#ready.catch(() => undefined);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens the request's stream. A session that is already going away
   * refuses it before anything is sent: that error has code EWAYPOINT_STALE.
   */
  async request(headers: OutgoingHttpHeaders, endStream: boolean): Promise<ClientHttp2Stream> {
    let stream: ClientHttp2Stream;
    try {
      const session = await this.#ready;
      stream = session.request(headers, { endStream });
    } catch (err) {
      this.#streamDone();
      if (err instanceof WaypointError) throw err;
      throw new WaypointError('EWAYPOINT_STALE', `the HTTP/2 session to ${this.upstream.authority} is closing: ${(err as Error).message}`, { endpoint: this.upstream.authority }, { cause: err });
    }
    stream.once('close', () => this.#streamDone());
    return stream;
  }

  abandon(): void {
    this.requests--;
    this.#streamDone();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const session = this.#session;
    // Still dialing: #adopt closes the tunnel when it arrives.
    if (session && this.active > 0) session.destroy();
    // GOAWAY, then the session ends the tunnel.
    else if (session) session.close();
    this.#events.closed(this);
  }

  #adopt(stream: Duplex): ClientHttp2Session {
    if (this.#closed) {
      stream.destroy();
      throw new WaypointError('EWAYPOINT_CONNECT', `connection to ${this.upstream.authority} closed while it was being opened`, { endpoint: this.upstream.authority });
    }
    const session = connect(`http://${this.upstream.authority}`, { createConnection: () => stream as never });
    this.#session = session;
    // Errors reach the streams in flight; the session's own is only a reason to close.
    session.on('error', () => undefined);
    session.once('goaway', () => {
      this.draining = true;
    });
    session.once('close', () => this.#gone());
    stream.once('close', () => session.destroy());
    return session;
  }

  #streamDone(): void {
    if (this.active > 0) this.active--;
    this.#events.released(this);
  }

  #gone(): void {
    this.#closed = true;
    this.active = 0;
    this.#events.closed(this);
  }
}

/** RST_STREAM codes that say the endpoint never processed the stream. */
export const REFUSED_STREAM = constants.NGHTTP2_REFUSED_STREAM;
export const CANCEL = constants.NGHTTP2_CANCEL;
