/**
 * Requests per second through the waypoint on loopback: 2,000 small GETs at
 * concurrency 16 from a keep-alive client, through the waypoint and a peer
 * daemon to one endpoint, over pooled HTTP/1.1 connections or one h2c
 * session. Logs the rate; asserts only what must hold whatever the
 * machine's speed.
 */
import test from 'ava';
import { many, resource, startWaypoint } from '../helpers/waypoint-harness.js';

const REQUESTS = 2000;
const CONCURRENCY = 16;

const throughput = test.macro({
  async exec(t, upstream: 'HTTP/1.1' | 'h2c', maxConnections: number) {
    const h2 = upstream === 'h2c';
    const h = await startWaypoint(
      t,
      [{ service: 'reviews', version: 'v1', protocol: h2 ? 'h2c' : 'h1' }],
      h2 ? [resource('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } } })] : [],
      { clientKeepAlive: true },
    );
    // Warm up: TLS sessions both ways, JIT.
    await many(200, CONCURRENCY, () => h.request());
    const started = process.hrtime.bigint();
    const replies = await many(REQUESTS, CONCURRENCY, () => h.request());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const opened = (await h.waypoint.metrics.connectionsOpened.get()).values.reduce((n, v) => n + v.value, 0);
    t.log(`${REQUESTS} requests in ${seconds.toFixed(2)} s: ${Math.round(REQUESTS / seconds)} req/s over ${opened} upstream connections`);
    const failed = replies.filter((r) => r.status !== 200 || r.body !== 'reviews-v1');
    t.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${REQUESTS} failed`);
    // Pooled: never more connections than requests in flight (HTTP/1.1), or one session (h2c), however many requests.
    t.true(opened <= maxConnections, `${opened} upstream connections`);
  },
  title: (_, upstream) => `throughput: ${REQUESTS} keep-alive requests at concurrency ${CONCURRENCY}, ${String(upstream)} to the endpoint`,
});

test.serial(throughput, 'HTTP/1.1', CONCURRENCY);
test.serial(throughput, 'h2c', 1);
