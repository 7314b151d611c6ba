/**
 * Requests per second through the waypoint on loopback: 2,000 small GETs at
 * concurrency 16 from a keep-alive client, through the waypoint and a peer
 * daemon to one endpoint. Logs the rate (the number the README and the
 * report quote); asserts only what must hold whatever the machine's speed.
 */
import test from 'ava';
import { many, startWaypoint } from '../helpers/waypoint-harness.js';

const REQUESTS = 2000;
const CONCURRENCY = 16;

test.serial(`throughput: ${REQUESTS} keep-alive requests at concurrency ${CONCURRENCY}`, async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }], [], { clientKeepAlive: true });
  // Warm up: TLS sessions both ways, JIT.
  await many(200, CONCURRENCY, () => h.request());
  const started = process.hrtime.bigint();
  const replies = await many(REQUESTS, CONCURRENCY, () => h.request());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const opened = (await h.waypoint.metrics.connectionsOpened.get()).values.reduce((n, v) => n + v.value, 0);
  t.log(`${REQUESTS} requests in ${seconds.toFixed(2)} s: ${Math.round(REQUESTS / seconds)} req/s over ${opened} upstream connections`);
  const failed = replies.filter((r) => r.status !== 200 || r.body !== 'reviews-v1');
  t.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${REQUESTS} failed`);
  // Pooled: at most one connection per request in flight, however many requests.
  t.true(opened <= CONCURRENCY, `${opened} upstream connections`);
});
