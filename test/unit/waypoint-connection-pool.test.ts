/**
 * The connection pool's bookkeeping, with stand-in connections (the pool is
 * pure logic over a connector): reuse, the connection breaker counting open
 * connections, the pending queue served first come first served, idle
 * connections giving way to other endpoints, per-connection request limits,
 * and config changes retiring connections.
 */
import test from 'ava';
import type { ConnectionPool, Lease, Waiting } from '../../waypoint/connection-pool.js';
import { DEFAULT_CONNECTION_POOL } from '../../core/routing/index.js';
import { conn, setup, upstream } from './waypoint-pool-fakes.js';

const lease = (x: ReturnType<ConnectionPool['acquire']>): Lease => {
  if (typeof x === 'string' || !('conn' in x)) throw new Error(`expected a lease, got ${typeof x === 'string' ? x : 'a queue place'}`);
  return x;
};
const waiting = (x: ReturnType<ConnectionPool['acquire']>): Waiting => {
  if (typeof x === 'string' || 'conn' in x) throw new Error('expected a queue place');
  return x;
};

test('an idle HTTP/1.1 connection is reused; the breaker counts connections, not requests', (t) => {
  const { pool, breaker, made } = setup();
  const a = lease(pool.acquire(upstream(1), 'h1'));
  t.false(a.reused);
  conn(a).done();
  const b = lease(pool.acquire(upstream(1), 'h1'));
  t.true(b.reused);
  t.is(b.conn, a.conn);
  t.is(made.length, 1);
  t.is(breaker.active('connection'), 1);
  // A busy HTTP/1.1 connection takes no second request: a second one opens.
  const c = lease(pool.acquire(upstream(1), 'h1'));
  t.not(c.conn, b.conn);
  t.is(breaker.active('connection'), 2);
});

test('an HTTP/2 connection carries concurrent requests to its endpoint', (t) => {
  const { pool, made } = setup({ maxConnections: 1 });
  const a = lease(pool.acquire(upstream(1), 'h2'));
  const b = lease(pool.acquire(upstream(1), 'h2'));
  t.is(a.conn, b.conn);
  t.is(a.conn.active, 2);
  t.is(made.length, 1);
});

test('at maxConnections a request waits, and the freed connection goes to the head of the queue', async (t) => {
  const { pool, breaker } = setup({ maxConnections: 1, http1MaxPendingRequests: 2 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  const w1 = waiting(pool.acquire(upstream(1), 'h1'));
  const w2 = waiting(pool.acquire(upstream(1), 'h1'));
  t.is(pool.acquire(upstream(1), 'h1'), 'pending');
  t.is(breaker.active('pending'), 2);
  conn(a).done();
  const got = await w1.granted;
  t.is(got.conn, a.conn);
  t.true(got.reused);
  t.is(breaker.active('pending'), 1);
  conn(got).done();
  t.is((await w2.granted).conn, a.conn);
  t.is(breaker.active('pending'), 0);
});

test('an idle connection to another endpoint gives up its slot, at once or for the head of the queue', async (t) => {
  const { pool, breaker, made } = setup({ maxConnections: 1 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  conn(a).done();
  // Idle to endpoint 1: endpoint 2 does not wait behind it.
  const b = lease(pool.acquire(upstream(2), 'h1'));
  t.is(conn(a).closeCalls, 1);
  t.is(made.length, 2);
  t.is(breaker.active('connection'), 1);
  // Busy: the request for endpoint 1 waits; when endpoint 2's connection is free it closes so the waiter can open its own.
  const w = waiting(pool.acquire(upstream(1), 'h1'));
  conn(b).done();
  const got = await w.granted;
  t.is(conn(b).closeCalls, 1);
  t.is(got.conn.upstream.authority, '10.0.0.1:9080');
  t.false(got.reused);
  t.is(breaker.active('connection'), 1);
});

test('a connection closes after maxRequestsPerConnection requests', (t) => {
  const { pool, made } = setup({ maxRequestsPerConnection: 2 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  conn(a).done();
  const b = lease(pool.acquire(upstream(1), 'h1'));
  t.is(b.conn, a.conn);
  t.true(b.conn.draining);
  conn(b).done();
  t.is(conn(a).closeCalls, 1);
  lease(pool.acquire(upstream(1), 'h1'));
  t.is(made.length, 2);
});

test('idleTimeout closes an idle connection', async (t) => {
  const { pool, breaker } = setup({ idleTimeoutMs: 30 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  conn(a).done();
  await new Promise((r) => setTimeout(r, 80));
  t.is(conn(a).closeCalls, 1);
  t.is(breaker.active('connection'), 0);
  t.deepEqual(pool.connections(), []);
});

test('a closed connection frees its slot for a waiter', async (t) => {
  const { pool } = setup({ maxConnections: 1 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  const w = waiting(pool.acquire(upstream(2), 'h1'));
  conn(a).close();
  t.is((await w.granted).conn.upstream.authority, '10.0.0.2:9080');
});

test('fresh: a retry after a dead reused connection does not take an idle one', (t) => {
  const { pool } = setup();
  const a = lease(pool.acquire(upstream(1), 'h1'));
  conn(a).done();
  const b = lease(pool.acquire(upstream(1), 'h1', { fresh: true }));
  t.not(b.conn, a.conn);
  t.false(b.reused);
});

test('retain: idle connections whose endpoint moved close at once, busy ones when their request ends', (t) => {
  const { pool, breaker } = setup();
  const idle = lease(pool.acquire(upstream(1), 'h1'));
  conn(idle).done();
  const busy = lease(pool.acquire(upstream(2), 'h1'));
  const kept = lease(pool.acquire(upstream(3), 'h1'));
  pool.retain((up) => up.authority === '10.0.0.3:9080');
  t.is(conn(idle).closeCalls, 1);
  t.is(conn(busy).closeCalls, 0);
  t.true(busy.conn.draining);
  conn(busy).done();
  t.is(conn(busy).closeCalls, 1);
  t.is(conn(kept).closeCalls, 0);
  t.is(breaker.active('connection'), 1);
});

test('a connection to the same endpoint behind another peer is not reused', (t) => {
  const { pool } = setup();
  const a = lease(pool.acquire(upstream(1, 'node-b'), 'h1'));
  conn(a).done();
  t.not(lease(pool.acquire(upstream(1, 'node-c'), 'h1')).conn, a.conn);
});

test('cancel after the grant says so, so the caller can give the lease back', async (t) => {
  const { pool, breaker } = setup({ maxConnections: 1 });
  const a = lease(pool.acquire(upstream(1), 'h1'));
  const w = waiting(pool.acquire(upstream(1), 'h1'));
  conn(a).done();
  t.false(w.cancel());
  const got = await w.granted;
  got.conn.abandon();
  t.is(got.conn.active, 0);
  t.is(breaker.active('pending'), 0);
  t.true(lease(pool.acquire(upstream(1), 'h1')).reused);
});

test('lower limits close idle connections over the new maximum', (t) => {
  const { pool, breaker } = setup();
  const ls = [1, 2, 3].map((n) => lease(pool.acquire(upstream(n), 'h1')));
  for (const l of ls) conn(l).done();
  pool.setLimits({ ...DEFAULT_CONNECTION_POOL, maxConnections: 1 });
  t.is(ls.filter((l) => conn(l).closeCalls === 1).length, 2);
  t.is(breaker.active('connection'), 1);
});
