/**
 * Upstream connection pooling through real HBONE hops: requests reuse
 * keep-alive HTTP/1.1 connections (HBONE streams) to each endpoint, under
 * the DestinationRule's connectionPool (maxConnections counts connections,
 * maxRequestsPerConnection, idleTimeout), connections the endpoint closed
 * are never reused, a reset after the request left is a `reset` for
 * retryOn, and config changes close connections to endpoints that are gone.
 */
import type { Socket } from 'node:net';
import test from 'ava';
import { until } from '../helpers/hbone-harness.js';
import { many, resource, startWaypoint, type EndpointSpec, type Handler } from '../helpers/waypoint-harness.js';

/** An endpoint that records the connections its requests came on. */
function tracked(version: string, handler?: Handler): { spec: EndpointSpec; sockets: Set<Socket>; open: () => number } {
  const sockets = new Set<Socket>();
  const closed = new WeakSet<Socket>();
  const spec: EndpointSpec = {
    service: 'reviews',
    version,
    handler: (req, res, body) => {
      if (!sockets.has(req.socket)) {
        sockets.add(req.socket);
        req.socket.once('close', () => closed.add(req.socket));
      }
      if (handler) handler(req, res, body);
      else res.end(`reviews-${version}`);
    },
  };
  return { spec, sockets, open: () => [...sockets].filter((s) => !closed.has(s)).length };
}

const pool = (connectionPool: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  resource('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy: { connectionPool }, ...extra });
const opened = async (h: Awaited<ReturnType<typeof startWaypoint>>): Promise<number> => {
  const m = await h.waypoint.metrics.connectionsOpened.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
};

test('50 sequential requests reuse one upstream connection', async (t) => {
  const ep = tracked('v1');
  const h = await startWaypoint(t, [ep.spec], []);
  for (let i = 0; i < 50; i++) t.is((await h.request()).status, 200);
  t.is(ep.sockets.size, 1, 'the endpoint saw one connection');
  t.is(await opened(h), 1);
});

test('maxConnections: 2 at concurrency 8: two connections carry every request, the rest wait as pending', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const ep = tracked('v1', (_q, res) => {
    peak = Math.max(peak, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('ok');
    }, 20);
  });
  const h = await startWaypoint(t, [ep.spec], [pool({ tcp: { maxConnections: 2 } })]);
  const replies = await many(40, 8, () => h.request());
  t.true(replies.every((r) => r.status === 200));
  t.is(ep.sockets.size, 2);
  t.is(peak, 2);
  t.is(await opened(h), 2);
});

test('maxRequestsPerConnection: 3 closes each connection after its third request', async (t) => {
  const ep = tracked('v1');
  const h = await startWaypoint(t, [ep.spec], [pool({ http: { maxRequestsPerConnection: 3 } })]);
  for (let i = 0; i < 9; i++) t.is((await h.request()).status, 200);
  t.is(ep.sockets.size, 3);
  await until(() => ep.open() <= 1, 2000);
  t.is(await opened(h), 3);
});

test('idleTimeout: an idle connection closes, the next request opens a new one', async (t) => {
  const ep = tracked('v1');
  const h = await startWaypoint(t, [ep.spec], [pool({ http: { idleTimeout: '200ms' } })]);
  t.is((await h.request()).status, 200);
  const started = Date.now();
  await until(() => ep.open() === 0, 3000);
  t.log(`idle connection closed after ${Date.now() - started} ms`);
  t.is(h.waypoint.clusters.pools().flatMap((p) => p.connections()).length, 0);
  t.is((await h.request()).status, 200);
  t.is(ep.sockets.size, 2);
});

test('a connection the endpoint closed after its response is never reused: 20 requests, no retries, all succeed', async (t) => {
  const ep = tracked('v1', (req, res) => {
    // Keep-alive by the headers, then a FIN: a server whose keep-alive timeout is shorter than ours.
    res.end('ok', () => req.socket.end());
  });
  const h = await startWaypoint(
    t,
    [ep.spec],
    [resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 0 } }] })],
  );
  for (let i = 0; i < 20; i++) {
    const r = await h.request();
    t.is(r.status, 200, r.body);
  }
  t.is(ep.sockets.size, 20);
});

test('a reused connection reset after the request left is a `reset`: 503 UC without retries, retried under retryOn: reset', async (t) => {
  // Every second request on a connection is cut without an answer.
  const count = new WeakMap<Socket, number>();
  const ep = tracked('v1', (req, res) => {
    const n = (count.get(req.socket) ?? 0) + 1;
    count.set(req.socket, n);
    if (n === 2) req.socket.destroy();
    else res.end('ok');
  });
  const vs = (retries: Record<string, unknown>) =>
    resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], retries }] });
  const h = await startWaypoint(t, [ep.spec], [vs({ attempts: 0 })]);
  t.is((await h.request()).status, 200);
  const cut = await h.request();
  t.is(cut.status, 503);
  t.regex(cut.body, /connection termination/);
  t.is(h.accessLog.at(-1)?.response_flags, 'UC');
  h.apply([vs({ attempts: 1, retryOn: 'reset' })]);
  t.is((await h.request()).status, 200);
  const retried = await h.request();
  t.is(retried.status, 200);
  t.is(h.accessLog.at(-1)?.attempts, 2);
});

test('config changes close pooled connections to endpoints that left the service or the subset', async (t) => {
  const v1 = tracked('v1');
  const v2 = tracked('v2');
  const subsets = (v1Labels: Record<string, string>) =>
    resource('DestinationRule', 'reviews', {
      host: 'reviews',
      subsets: [
        { name: 'v1', labels: v1Labels },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    });
  const split = resource('VirtualService', 'reviews', {
    hosts: ['reviews'],
    http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ],
  });
  const h = await startWaypoint(t, [v1.spec, v2.spec], [subsets({ version: 'v1' }), split]);
  t.is((await h.request()).body, 'reviews-v1');
  t.is((await h.request({ headers: { 'end-user': 'jason' } })).body, 'reviews-v2');
  t.is(v1.open() + v2.open(), 2);
  // Subset v1 now selects v2's labels: the idle connection to v1 no longer belongs to it.
  h.apply([subsets({ version: 'v2' }), split]);
  await until(() => v1.open() === 0, 3000);
  t.is(v2.open(), 1);
  // v2 leaves the service: its connection closes too.
  h.apply([subsets({ version: 'v2' }), split], ['reviews-v2']);
  await until(() => v2.open() === 0, 3000);
});
