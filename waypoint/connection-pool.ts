/**
 * Envoy's connection pool for one cluster, over HBONE: upstream connections
 * (one HBONE stream each, carrying HTTP/1.1 or one h2c session) kept per
 * endpoint and reused across requests, under the cluster's circuit breaker.
 *
 * - A request takes an available connection to its endpoint: an idle
 *   HTTP/1.1 one (newest first), or the endpoint's HTTP/2 session.
 * - Otherwise it opens one, if `maxConnections` allows; the breaker's
 *   `connection` count is open connections, held from dial to close.
 * - At the limit, an idle connection to another endpoint is closed to make
 *   room (so idle connections never starve a busy endpoint); failing that the
 *   request waits as pending, up to `http1MaxPendingRequests`, and overflows
 *   at once past that (503, x-ambit-overflow: pending).
 * - Waiters are served first come, first served: a freed connection goes to
 *   the head of the queue, reused if it is to the same endpoint, else closed
 *   so the head can open its own.
 * - `maxRequestsPerConnection` closes a connection after that many requests;
 *   `idleTimeout` closes one idle that long. A config change that removes an
 *   endpoint, or moves it behind another peer, retires its connections
 *   (idle ones at once, busy ones when their request ends).
 */
import type { Duplex } from 'node:stream';
import { routeOf, type Upstream } from './config.js';
import type { CircuitBreaker, ConnectionPoolLimits, OverflowReason, Release } from '../core/routing/index.js';

export type UpstreamProtocol = 'h1' | 'h2';

/** What the pool needs of a connection; h1-connection.ts and h2-connection.ts implement it. */
export interface PooledConnection {
  readonly protocol: UpstreamProtocol;
  readonly upstream: Upstream;
  /** Requests started on it, this one included. */
  requests: number;
  /** Requests in flight on it. */
  active: number;
  /** No new requests: it closes once the ones in flight end. */
  draining: boolean;
  readonly closed: boolean;
  /** Gives back a lease that never carried its request (the try ended before it started). */
  abandon(): void;
  /** Ends the connection (gracefully when nothing is in flight, else by reset) and tells the pool. */
  close(): void;
}

/** What a connection tells its pool. */
export interface ConnectionEvents {
  /** A request on it ended and left it reusable. */
  released(conn: PooledConnection): void;
  /** The transport is gone (closed by either side, reset, failed to dial). */
  closed(conn: PooledConnection): void;
}

/** Opens the HBONE stream a connection runs on. */
export type Dial = (upstream: Upstream) => Promise<Duplex>;

/** `dialHeaders`: extra headers for the HBONE CONNECT of a new connection (the trace context of the try that opens it). */
export type Connector = (
  upstream: Upstream,
  protocol: UpstreamProtocol,
  events: ConnectionEvents,
  cluster: string,
  dialHeaders?: Readonly<Record<string, string>>,
) => PooledConnection;

export interface Lease {
  kind: 'lease';
  conn: PooledConnection;
  /** It carried a request before this one. */
  reused: boolean;
}

export interface Waiting {
  kind: 'waiting';
  granted: Promise<Lease>;
  /** Leave the queue (client gone, route timeout); false when it was granted already (the lease is the caller's). */
  cancel(): boolean;
}

export interface AcquireOptions {
  /** Skip idle connections: the retry after a reused one turned out dead. */
  fresh?: boolean;
  /** For the CONNECT of a connection opened for this request (Connector's dialHeaders). */
  dialHeaders?: Readonly<Record<string, string>> | undefined;
}

interface Waiter {
  upstream: Upstream;
  protocol: UpstreamProtocol;
  fresh: boolean;
  dialHeaders: Readonly<Record<string, string>> | undefined;
  resolve: (lease: Lease) => void;
  releasePending: Release;
  done: boolean;
}

/** setTimeout's ceiling (about 24.8 days); longer idle timeouts are clamped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ConnectionPool {
  readonly cluster: string;
  readonly #breaker: CircuitBreaker;
  readonly #connect: Connector;
  readonly #events: ConnectionEvents;
  #limits: ConnectionPoolLimits;
  /** Open connections by route, oldest first. */
  readonly #byRoute = new Map<string, PooledConnection[]>();
  /** Idle connections, longest idle first, with their idle timers. */
  readonly #idle = new Map<PooledConnection, NodeJS.Timeout | undefined>();
  readonly #slots = new Map<PooledConnection, Release>();
  readonly #queue: Waiter[] = [];
  /** Connections opened so far. */
  opened = 0;

  constructor(cluster: string, breaker: CircuitBreaker, limits: ConnectionPoolLimits, connect: Connector) {
    this.cluster = cluster;
    this.#breaker = breaker;
    this.#limits = limits;
    this.#connect = connect;
    this.#events = { released: (c) => this.#released(c), closed: (c) => this.#retire(c) };
  }

  /** New limits from a config change: idle connections over the new maximum close, idle timers restart. */
  setLimits(limits: ConnectionPoolLimits): void {
    if (limits === this.#limits) return;
    const idleChanged = limits.idleTimeoutMs !== this.#limits.idleTimeoutMs;
    this.#limits = limits;
    for (const conn of [...this.#idle.keys()]) {
      if (this.#slots.size <= limits.maxConnections) break;
      this.#close(conn);
    }
    if (idleChanged) for (const conn of this.#idle.keys()) this.#armIdle(conn);
    this.#drain();
  }

  /** A connection for `upstream` now, a place in the queue, or the overflow reason. */
  acquire(upstream: Upstream, protocol: UpstreamProtocol, options: AcquireOptions = {}): Lease | Waiting | OverflowReason {
    const fresh = options.fresh ?? false;
    const lease = (fresh ? undefined : this.#reuse(upstream, protocol)) ?? this.#open(upstream, protocol, options.dialHeaders);
    if (lease) return lease;
    const pending = this.#breaker.tryAcquire('pending');
    if (typeof pending !== 'function') return pending;
    let resolve!: (lease: Lease) => void;
    const granted = new Promise<Lease>((r) => (resolve = r));
    const waiter: Waiter = { upstream, protocol, fresh, dialHeaders: options.dialHeaders, resolve, releasePending: pending, done: false };
    this.#queue.push(waiter);
    return {
      kind: 'waiting',
      granted,
      cancel: () => {
        if (waiter.done) return false;
        waiter.done = true;
        waiter.releasePending();
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
        return true;
      },
    };
  }

  /** Retires connections whose route `keep` rejects (a config change moved or removed their endpoint). */
  retain(keep: (upstream: Upstream) => boolean): void {
    for (const list of [...this.#byRoute.values()]) {
      for (const conn of [...list]) {
        if (keep(conn.upstream)) continue;
        if (conn.active === 0) this.#close(conn);
        else conn.draining = true;
      }
    }
  }

  /** Closes everything (server shutdown); requests in flight are reset. */
  close(): void {
    for (const list of [...this.#byRoute.values()]) for (const conn of [...list]) this.#close(conn);
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Open connections, for tests and the admin view. */
  connections(): PooledConnection[] {
    return [...this.#byRoute.values()].flat();
  }

  #reuse(upstream: Upstream, protocol: UpstreamProtocol): Lease | undefined {
    const list = this.#byRoute.get(routeOf(upstream));
    if (!list) return undefined;
    // Newest first: under steady load the same few stay busy and older ones idle long enough to time out.
    for (let i = list.length - 1; i >= 0; i--) {
      const conn = list[i]!;
      if (conn.protocol === protocol && this.#available(conn)) return this.#lease(conn);
    }
    return undefined;
  }

  #available(conn: PooledConnection): boolean {
    if (conn.closed || conn.draining) return false;
    return conn.protocol === 'h2' || conn.active === 0;
  }

  #lease(conn: PooledConnection): Lease {
    const reused = conn.requests > 0;
    conn.requests++;
    conn.active++;
    const max = this.#limits.maxRequestsPerConnection;
    if (max > 0 && conn.requests >= max) conn.draining = true;
    this.#unidle(conn);
    return { kind: 'lease', conn, reused };
  }

  /**
   * A connection slot for a connection the pool does not keep (the TCP
   * proxy's streams count against maxConnections too), or the overflow
   * reason. Call the release once that connection closes.
   */
  claimSlot(): Release | OverflowReason {
    const slot = this.#slot();
    if (typeof slot !== 'function') return slot;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slot();
      this.#drain();
    };
  }

  /** A free slot, or one an idle connection gives up. */
  #slot(): Release | OverflowReason {
    const slot = this.#breaker.tryAcquire('connection');
    if (typeof slot === 'function') return slot;
    const victim = this.#idle.keys().next().value;
    if (!victim) return slot;
    this.#close(victim);
    return this.#breaker.tryAcquire('connection');
  }

  /** A new connection if a slot is free or an idle one can give up its own. */
  #open(upstream: Upstream, protocol: UpstreamProtocol, dialHeaders: Readonly<Record<string, string>> | undefined): Lease | undefined {
    const slot = this.#slot();
    if (typeof slot !== 'function') return undefined;
    const conn = this.#connect(upstream, protocol, this.#events, this.cluster, dialHeaders);
    this.opened++;
    this.#slots.set(conn, slot);
    const key = routeOf(upstream);
    const list = this.#byRoute.get(key);
    if (list) list.push(conn);
    else this.#byRoute.set(key, [conn]);
    return this.#lease(conn);
  }

  #released(conn: PooledConnection): void {
    if (conn.closed || !this.#slots.has(conn)) return;
    if (conn.draining && conn.active === 0) return this.#close(conn);
    const head = this.#queue[0];
    if (head && conn.active === 0 && (head.fresh || routeOf(head.upstream) !== routeOf(conn.upstream) || head.protocol !== conn.protocol)) {
      // The head waits for a connection elsewhere: this one gives up its slot.
      this.#close(conn);
      return;
    }
    this.#drain();
    if (conn.active === 0 && !conn.closed) this.#markIdle(conn);
  }

  /** Serves waiters, head first, while connections can be reused or opened. */
  #drain(): void {
    while (this.#queue.length > 0) {
      const w = this.#queue[0]!;
      const lease = (w.fresh ? undefined : this.#reuse(w.upstream, w.protocol)) ?? this.#open(w.upstream, w.protocol, w.dialHeaders);
      if (!lease) return;
      this.#queue.shift();
      w.done = true;
      w.releasePending();
      w.resolve(lease);
    }
  }

  #close(conn: PooledConnection): void {
    this.#retire(conn);
    conn.close();
  }

  /** Forgets a connection and frees its slot, once; the freed slot goes to the queue. */
  #retire(conn: PooledConnection): void {
    const slot = this.#slots.get(conn);
    if (!slot) return;
    this.#slots.delete(conn);
    this.#unidle(conn);
    const key = routeOf(conn.upstream);
    const list = this.#byRoute.get(key);
    const i = list?.indexOf(conn) ?? -1;
    if (list && i >= 0) {
      list.splice(i, 1);
      if (list.length === 0) this.#byRoute.delete(key);
    }
    slot();
    this.#drain();
  }

  #markIdle(conn: PooledConnection): void {
    this.#unidle(conn);
    this.#idle.set(conn, undefined);
    this.#armIdle(conn);
  }

  #armIdle(conn: PooledConnection): void {
    clearTimeout(this.#idle.get(conn));
    const timer = setTimeout(() => this.#close(conn), Math.min(this.#limits.idleTimeoutMs, MAX_TIMER_MS));
    timer.unref();
    this.#idle.set(conn, timer);
  }

  #unidle(conn: PooledConnection): void {
    if (!this.#idle.has(conn)) return;
    clearTimeout(this.#idle.get(conn));
    this.#idle.delete(conn);
  }
}
