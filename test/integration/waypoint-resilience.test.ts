/**
 * The waypoint's router under failure: retries per the route's policy,
 * route timeouts, circuit-breaker overflow, L7 authorization, and config
 * reloads, each against real endpoints behind a peer daemon on loopback.
 */
import test from 'ava';
import { OVERFLOW_HEADER } from '../../core/routing/index.js';
import { until } from '../helpers/hbone-harness.js';
import { CALLER, many, resource, startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';

const HOST = 'reviews.default.svc.cluster.local';
const vsReviews = (http: Record<string, unknown>) =>
  resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], ...http }] });

test('retries: an endpoint that fails twice with 503 then answers is retried to success under attempts: 3, body replayed', async (t) => {
  let calls = 0;
  const bodies: string[] = [];
  const flaky: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    handler: (_req, res, body) => {
      bodies.push(body);
      if (++calls <= 2) res.writeHead(503).end('busy');
      else res.end('ok after retries');
    },
  };
  const h = await startWaypoint(t, [flaky], [vsReviews({ retries: { attempts: 3, retryOn: '5xx' } })]);
  const r = await h.request({ method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
  t.is(r.status, 200);
  t.is(r.body, 'ok after retries');
  t.is(calls, 3);
  t.deepEqual(bodies, ['payload', 'payload', 'payload']);
  t.is(h.accessLog.at(-1)?.attempts, 3);
});

test("retries: attempts: 1 stops after one retry and returns the endpoint's 503 as it came", async (t) => {
  let calls = 0;
  const down: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    handler: (_q, res) => void (calls++, res.writeHead(503, { 'x-from': 'endpoint' }).end('busy')),
  };
  const h = await startWaypoint(t, [down], [vsReviews({ retries: { attempts: 1, retryOn: '5xx' } })]);
  const r = await h.request();
  t.is(r.status, 503);
  t.is(r.body, 'busy');
  t.is(r.headers['x-from'], 'endpoint');
  t.is(calls, 2);
});

// Timing tests run serially, before the rest: concurrent tests' TLS and key work stall the event loop.
test.serial('timeout: a route timeout of 500 ms answers 504 at 500 ms ±10% while the endpoint takes 3 s', async (t) => {
  const slow: EndpointSpec = { service: 'reviews', version: 'v1', handler: (_q, res) => void setTimeout(() => res.end('late'), 3000).unref() };
  const h = await startWaypoint(t, [slow], [vsReviews({ timeout: '0.5s', retries: { attempts: 0 } })]);
  const r = await h.request();
  t.is(r.status, 504);
  t.is(r.body, 'upstream request timeout');
  // The waypoint's own clock, as Envoy's timeout is: the client's also counts tunnel setup.
  const took = h.accessLog.at(-1)!.duration_ms;
  t.true(took >= 450 && took <= 550, `took ${took} ms at the waypoint, ${r.ms} ms at the client`);
  t.true(r.ms < 1500);
  t.is(h.accessLog.at(-1)?.response_flags, 'UT');
});

test.serial('timeout: perTryTimeout with retries: a slow first try is abandoned and the retry answers', async (t) => {
  let calls = 0;
  const once: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    handler: (_q, res) => (++calls === 1 ? void setTimeout(() => res.end('late'), 2000).unref() : res.end('fast')),
  };
  const h = await startWaypoint(t, [once], [vsReviews({ timeout: '3s', retries: { attempts: 2, perTryTimeout: '0.2s', retryOn: '5xx' } })]);
  const r = await h.request();
  t.is(r.status, 200);
  t.is(r.body, 'fast');
  t.true(h.accessLog.at(-1)!.duration_ms < 1000, `took ${h.accessLog.at(-1)!.duration_ms} ms at the waypoint`);
  t.is(h.accessLog.at(-1)?.attempts, 2);
});

test.serial('circuit breaker: maxConnections 1, http1MaxPendingRequests 1: concurrent requests get fast 503 overflows, none hang', async (t) => {
  const slow: EndpointSpec = { service: 'reviews', version: 'v1', handler: (_q, res) => void setTimeout(() => res.end('served'), 150) };
  const dr = resource('DestinationRule', 'reviews', {
    host: 'reviews',
    trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRetries: 0 } } },
  });
  const h = await startWaypoint(t, [slow], [dr]);
  t.is((await h.request()).status, 200, "warm: the caller's tunnel session is up before the burst");
  const started = Date.now();
  const replies = await many(10, 10, () => h.request());
  const served = replies.filter((r) => r.status === 200);
  const overflowed = replies.filter((r) => r.status === 503 && r.headers[OVERFLOW_HEADER] === 'pending');
  t.log(`${served.length} served, ${overflowed.length} overflowed in ${Date.now() - started} ms`);
  t.is(served.length + overflowed.length, 10);
  t.true(served.length >= 2, 'the one in flight and the one pending are served');
  t.true(overflowed.length >= 5);
  const overflowMs = h.accessLog.filter((e) => e.response_flags === 'UO').map((e) => e.duration_ms);
  t.true(Math.max(...overflowMs) < 100, `overflow answers without waiting for the endpoint: ${overflowMs.join(',')} ms`);
  t.true(Date.now() - started < 2000);
  t.regex(await h.waypoint.metrics.registry.metrics(), /ambit_waypoint_overflows_total\{[^}]*reason="pending"/);
});

test('L7 AuthorizationPolicy targeting the service: DENY on a path answers 403 RBAC, other paths pass', async (t) => {
  const ap = resource('AuthorizationPolicy', 'no-admin', {
    targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }],
    action: 'DENY',
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/productpage'] } }], to: [{ operation: { paths: ['/admin/*'] } }] }],
  });
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }], [ap]);
  const denied = await h.request({ path: '/admin/users' });
  t.is(denied.status, 403);
  t.is(denied.body, 'RBAC: access denied');
  t.like(h.accessLog.at(-1), { response_flags: 'RBAC', authz_policy: 'default/no-admin', source_principal: CALLER });
  t.is((await h.request({ path: '/reviews/1' })).status, 200);
});

test('no VirtualService: the default route reaches the service; a VirtualService whose routes all miss answers 404', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }], []);
  t.is((await h.request()).body, 'reviews-v1');
  h.apply([
    resource('VirtualService', 'reviews', {
      hosts: ['reviews'],
      http: [{ match: [{ uri: { prefix: '/only' } }], route: [{ destination: { host: 'reviews' } }] }],
    }),
  ]);
  t.is((await h.request({ path: '/other' })).status, 404);
  t.is((await h.request({ path: '/only/this' })).status, 200);
  t.is(h.accessLog.at(-1)?.destination_service, HOST);
});

test('a config change mid-request drops nothing: in-flight requests finish, new ones take the new route', async (t) => {
  const slowV1: EndpointSpec = { service: 'reviews', version: 'v1', handler: (_q, res) => void setTimeout(() => res.end('reviews-v1'), 500) };
  const dr = resource('DestinationRule', 'reviews', {
    host: 'reviews',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  const to = (subset: string) =>
    resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset } }] }] });
  const h = await startWaypoint(t, [slowV1, { service: 'reviews', version: 'v2' }], [dr, to('v1')]);
  const inFlight = many(20, 20, () => h.request());
  await until(() => h.hits.get('reviews-v1') === 20, 5000);
  h.apply([dr, to('v2')]);
  const after = await h.request();
  t.is(after.body, 'reviews-v2');
  const before = await inFlight;
  t.true(before.every((r) => r.status === 200 && r.body === 'reviews-v1'));
});

test("the waypoint refuses tunnels to anything but its services' VIPs (never an open relay)", async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }], []);
  t.is(h.waypoint.config.serviceAt('127.0.1.1', h.port), undefined);
  t.truthy(h.waypoint.config.serviceAt(h.vips.get('reviews')!, h.port));
  t.is(h.waypoint.config.serviceAt(h.vips.get('reviews')!, h.port + 1), undefined);
});
