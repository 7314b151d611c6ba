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
import { WaypointError } from './errors.js';
import { TunnelConnection } from './tunnel-connection.js';

export class H2Connection extends TunnelConnection<ClientHttp2Session> {
  readonly protocol = 'h2' as const;
  #session: ClientHttp2Session | undefined;

  /**
   * Opens the request's stream. A session that is already going away
   * refuses it before anything is sent: that error has code EWAYPOINT_STALE.
   */
  async request(headers: OutgoingHttpHeaders, endStream: boolean): Promise<ClientHttp2Stream> {
    let stream: ClientHttp2Stream;
    try {
      const session = await this.ready;
      stream = session.request(headers, { endStream });
    } catch (err) {
      this.#streamDone();
      if (err instanceof WaypointError) throw err;
      throw new WaypointError(
        'EWAYPOINT_STALE',
        `the HTTP/2 session to ${this.upstream.authority} is closing: ${(err as Error).message}`,
        { endpoint: this.upstream.authority },
        { cause: err },
      );
    }
    stream.once('close', () => this.#streamDone());
    return stream;
  }

  abandon(): void {
    this.requests--;
    this.#streamDone();
  }

  protected shutdown(graceful: boolean): void {
    // GOAWAY, then the session ends the tunnel; or everything at once.
    if (graceful) this.#session?.close();
    else this.#session?.destroy();
  }

  protected adopt(stream: Duplex): ClientHttp2Session {
    const session = connect(`http://${this.upstream.authority}`, { createConnection: () => stream });
    this.#session = session;
    // Errors reach the streams in flight; the session's own is only a reason to close.
    session.on('error', () => undefined);
    session.once('goaway', () => {
      this.draining = true;
    });
    session.once('close', () => this.gone());
    stream.once('close', () => session.destroy());
    return session;
  }

  #streamDone(): void {
    if (this.active > 0) this.active--;
    this.events.released(this);
  }
}

/** RST_STREAM codes that say the endpoint never processed the stream. */
export const REFUSED_STREAM = constants.NGHTTP2_REFUSED_STREAM;
export const CANCEL = constants.NGHTTP2_CANCEL;
