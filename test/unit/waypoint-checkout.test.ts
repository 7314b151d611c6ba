/**
 * Pool checkout (waypoint/checkout.ts) over a real pool of stand-in
 * connections: each way a wait for a connection can end, what the request
 * is answered, and that the pool is left with nothing dangling (no queue
 * place, no pending count, no lease granted to nobody).
 */
import { EventEmitter } from 'node:events';
import test from 'ava';
import { checkout, type CheckoutRequest } from '../../waypoint/checkout.js';
import { WaypointMetrics } from '../../waypoint/metrics.js';
import { conn, setup, upstream } from './waypoint-pool-fakes.js';

function request(over: Partial<CheckoutRequest> = {}): CheckoutRequest {
  return { upstream: upstream(1), protocol: 'h1', fresh: false, deadline: Infinity, client: new EventEmitter(), clientGone: () => false, ...over };
}

/** A pool of one HTTP/1.1 connection, already busy, so the next checkout waits as pending. */
async function busyPool(pending = 1) {
  const s = setup({ maxConnections: 1, http1MaxPendingRequests: pending });
  const first = await checkout(s.pool, request(), new WaypointMetrics());
  if (first.kind !== 'lease') throw new Error(`expected the first checkout to lease, got ${first.kind}`);
  return { ...s, first };
}

const overflows = async (m: WaypointMetrics) => (await m.overflows.get()).values.map((v) => ({ ...v.labels, n: v.value }));

test('a free connection is leased at once, and nothing is counted', async (t) => {
  const { pool } = setup();
  const metrics = new WaypointMetrics();
  const got = await checkout(pool, request(), metrics);
  t.is(got.kind, 'lease');
  t.deepEqual(await overflows(metrics), []);
});

test('no connection and no room to wait: 503 UO with the reason, counted against the cluster', async (t) => {
  const { pool } = await busyPool(0);
  const metrics = new WaypointMetrics();
  const got = await checkout(pool, request(), metrics);
  if (got.kind !== 'reply') return t.fail(`expected a reply, got ${got.kind}`);
  t.like(got.reply, { status: 503, flag: 'UO', headers: { 'x-envoy-overloaded': 'true' } });
  t.deepEqual(await overflows(metrics), [{ cluster: 'outbound|9080||reviews', reason: 'pending', n: 1 }]);
});

test('a pending request gets the connection the one before it frees', async (t) => {
  const { pool, first } = await busyPool();
  const waiting = checkout(pool, request(), new WaypointMetrics());
  conn(first).done();
  const got = await waiting;
  if (got.kind !== 'lease') return t.fail(`expected a lease, got ${got.kind}`);
  t.is(got.conn, first.conn);
  t.true(got.reused);
});

test('the route deadline passing while pending: 504 UT, and the queue place and pending count are given up', async (t) => {
  const { pool, breaker } = await busyPool();
  const got = await checkout(pool, request({ deadline: Date.now() + 20 }), new WaypointMetrics());
  if (got.kind !== 'reply') return t.fail(`expected a reply, got ${got.kind}`);
  t.like(got.reply, { status: 504, flag: 'UT' });
  t.is(pool.waiting, 0);
  t.is(breaker.active('pending'), 0);
});

test('the client leaving while pending ends the wait with nobody to answer', async (t) => {
  const { pool, breaker } = await busyPool();
  const client = new EventEmitter();
  const waiting = checkout(pool, request({ client, clientGone: () => true }), new WaypointMetrics());
  client.emit('close');
  t.deepEqual(await waiting, { kind: 'gone' });
  t.is(pool.waiting, 0);
  t.is(breaker.active('pending'), 0);
});

test('a close that was not the client leaving still ends the wait, answered as a reset (503 UC)', async (t) => {
  const { pool } = await busyPool();
  const client = new EventEmitter();
  const waiting = checkout(pool, request({ client }), new WaypointMetrics());
  client.emit('close');
  const got = await waiting;
  if (got.kind !== 'reply') return t.fail(`expected a reply, got ${got.kind}`);
  t.like(got.reply, { status: 503, flag: 'UC' });
});

test('a connection granted in the same turn the client left is given back unused', async (t) => {
  const { pool, first, made } = await busyPool();
  const client = new EventEmitter();
  const waiting = checkout(pool, request({ client, clientGone: () => true }), new WaypointMetrics());
  client.emit('close');
  // Freed before the wait has seen the close: the pool hands the connection to the queue place that is leaving.
  conn(first).done();
  t.deepEqual(await waiting, { kind: 'gone' });
  await new Promise((r) => setImmediate(r));
  t.is(made.length, 1);
  t.like(made[0], { active: 0, requests: 1 });
});
