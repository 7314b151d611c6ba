/**
 * What every pooled upstream connection shares, whichever HTTP version it
 * carries: it runs on an HBONE stream that is still being dialed when the
 * pool hands it out, so requests wait on `ready`; a failed dial or a stream
 * that closes tells the pool; closing it while it dials closes the stream
 * as soon as it arrives.
 */
import type { Duplex } from 'node:stream';
import type { Upstream } from './config.js';
import type { ConnectionEvents, PooledConnection, UpstreamProtocol } from './connection-pool.js';
import { WaypointError } from './errors.js';

export abstract class TunnelConnection<T> implements PooledConnection {
  abstract readonly protocol: UpstreamProtocol;
  readonly upstream: Upstream;
  requests = 0;
  active = 0;
  draining = false;
  protected readonly events: ConnectionEvents;
  /** What requests run on, once the stream is up; rejects with EWAYPOINT_CONNECT when it never is. */
  protected readonly ready: Promise<T>;
  #closed = false;

  constructor(upstream: Upstream, stream: Promise<Duplex>, events: ConnectionEvents) {
    this.upstream = upstream;
    this.events = events;
    this.ready = stream.then(
      (s) => {
        if (this.#closed) {
          s.destroy();
          throw new WaypointError('EWAYPOINT_CONNECT', `connection to ${upstream.authority} closed while it was being opened`, {
            endpoint: upstream.authority,
          });
        }
        return this.adopt(s);
      },
      (err: unknown) => {
        this.gone();
        throw new WaypointError(
          'EWAYPOINT_CONNECT',
          `no HBONE stream to ${upstream.authority}: ${(err as Error).message}`,
          { endpoint: upstream.authority },
          { cause: err },
        );
      },
    );
    // Each request on it reports a dial failure itself; nobody else waits on this promise.
    this.ready.catch(() => undefined);
  }

  get closed(): boolean {
    return this.#closed;
  }

  abstract abandon(): void;

  /** Ends the connection (`end` when idle, `reset` with requests in flight) and tells the pool. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.shutdown(this.active === 0);
    this.events.closed(this);
  }

  /** Takes the dialed stream into use. */
  protected abstract adopt(stream: Duplex): T;

  /** Closes what `adopt` built, gracefully or not; nothing when still dialing. */
  protected abstract shutdown(graceful: boolean): void;

  /** The transport is gone. */
  protected gone(): void {
    this.#closed = true;
    this.active = 0;
    this.events.closed(this);
  }
}
