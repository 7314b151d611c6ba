/** Stand-ins for the connection pool's tests: connections that only keep the pool's counts, endpoints behind peers, a pool over them. */
import type { Upstream } from '../../waypoint/config.js';
import { ConnectionPool, type ConnectionEvents, type Lease, type PooledConnection, type UpstreamProtocol } from '../../waypoint/connection-pool.js';
import { CircuitBreaker, DEFAULT_CONNECTION_POOL, type ConnectionPoolLimits } from '../../core/routing/index.js';

export class FakeConnection implements PooledConnection {
  requests = 0;
  active = 0;
  draining = false;
  closed = false;
  closeCalls = 0;
  constructor(
    readonly upstream: Upstream,
    readonly protocol: UpstreamProtocol,
    readonly events: ConnectionEvents,
  ) {}
  abandon(): void {
    this.requests--;
    this.done();
  }
  close(): void {
    this.closeCalls++;
    this.closed = true;
    this.events.closed(this);
  }
  /** The request on it ended (node:http's 'free', or an h2 stream closing). */
  done(): void {
    this.active--;
    this.events.released(this);
  }
}

export const upstream = (n: number, peer = 'node-b'): Upstream => ({
  service: 'reviews.default.svc.cluster.local',
  endpoint: { key: `10.0.0.${n}:9080`, address: `10.0.0.${n}`, port: 9080, labels: {} },
  record: { service: 'reviews', namespace: 'default', node: peer, address: `10.0.0.${n}`, port: 9080, serviceAccount: 'reviews', labels: {} },
  peer: { host: peer, port: 15008 },
  identity: 'spiffe://cluster.local/ns/default/sa/reviews',
  peerIdentity: `spiffe://cluster.local/ns/ambit-system/sa/${peer}`,
  authority: `10.0.0.${n}:9080`,
});

export function setup(limits: Partial<ConnectionPoolLimits> = {}) {
  const all = { ...DEFAULT_CONNECTION_POOL, ...limits };
  const breaker = new CircuitBreaker(all);
  const made: FakeConnection[] = [];
  const pool = new ConnectionPool('outbound|9080||reviews', breaker, all, (up, protocol, events) => {
    const c = new FakeConnection(up, protocol, events);
    made.push(c);
    return c;
  });
  return { pool, breaker, made };
}

export const conn = (l: Lease) => l.conn as FakeConnection;
