/**
 * Pool checkout for one try: how long a request is willing to wait for an
 * upstream connection. The pool (connection-pool.ts) decides who gets a
 * connection and in which order; this decides when a request stops asking.
 *
 * - Overflow (no connection and no room to wait as pending) answers 503 UO
 *   at once and is counted against the cluster.
 * - A request waiting as pending stops at the route deadline (504 UT) or
 *   when its client leaves ('gone': nobody is left to answer).
 * - A wait that ends in the same turn the pool granted the connection gives
 *   the connection back unused, so a late grant never leaks a lease.
 */
import type { ConnectionPool, Lease, UpstreamProtocol } from './connection-pool.js';
import type { Upstream } from './config.js';
import type { WaypointMetrics } from './metrics.js';
import { replies, type LocalReply } from './replies.js';

/** A lease (kind 'lease'), a local answer, or 'gone': the client left while it waited. */
export type Checkout = Lease | { kind: 'reply'; reply: LocalReply } | { kind: 'gone' };

export interface CheckoutRequest {
  upstream: Upstream;
  protocol: UpstreamProtocol;
  /** Skip idle connections: the resend after a reused one turned out dead. */
  fresh: boolean;
  /** Epoch ms the route timeout fires at; Infinity: none. */
  deadline: number;
  /** Emits 'close' when the client leaves: its response, or its upgraded socket. */
  client: NodeJS.EventEmitter;
  /** Whether the close was the client leaving rather than the exchange ending. */
  clientGone: () => boolean;
  /** The try's trace context, for the HBONE CONNECT if a connection is opened for it. */
  dialHeaders?: Readonly<Record<string, string>> | undefined;
}

export async function checkout(pool: ConnectionPool, r: CheckoutRequest, metrics: Pick<WaypointMetrics, 'overflows'>): Promise<Checkout> {
  const slot = pool.acquire(r.upstream, r.protocol, { fresh: r.fresh, dialHeaders: r.dialHeaders });
  if (typeof slot === 'string') {
    metrics.overflows.inc({ cluster: pool.cluster, reason: slot });
    return { kind: 'reply', reply: replies.overflow(slot) };
  }
  if (slot.kind === 'lease') return slot;
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<Checkout>((resolve) => r.client.once('close', () => resolve({ kind: 'gone' })));
  const late =
    r.deadline === Infinity
      ? new Promise<never>(() => undefined)
      : new Promise<Checkout>((resolve) => (timer = setTimeout(() => resolve({ kind: 'reply', reply: replies.timeout() }), r.deadline - Date.now())));
  const got = await Promise.race([slot.granted, gone, late]);
  clearTimeout(timer);
  if (got.kind !== 'lease' && !slot.cancel()) void slot.granted.then((lease) => lease.conn.abandon());
  // A close that was not the client leaving still ends the wait; whoever is left gets a reset.
  return got.kind === 'gone' && !r.clientGone() ? { kind: 'reply', reply: replies.reset() } : got;
}
