import test from 'ava';
import { compileRoutes, DEFAULT_CONNECTION_POOL, UNLIMITED, upstreamProtocol } from '../../core/routing/index.js';
import { dr, fqdn } from './waypoint-helpers.js';

const reviews = fqdn('reviews');

test('without a DestinationRule: Istio defaults (LEAST_REQUEST, 2^32-1 limits, 10s connect, no outlier detection)', (t) => {
  const p = compileRoutes([], []).policyFor(reviews, undefined, 9080)!;
  t.deepEqual(p.loadBalancer, { kind: 'LEAST_REQUEST' });
  t.is(p.connectionPool, DEFAULT_CONNECTION_POOL);
  t.is(p.connectionPool.maxConnections, UNLIMITED);
  t.is(p.connectionPool.connectTimeoutMs, 10_000);
  t.is(p.outlierDetection, undefined);
  t.is(p.subsetLabels, undefined);
});

test('outlierDetection present: Envoy defaults fill the rest', (t) => {
  const table = compileRoutes([], [dr('r', { host: 'reviews', trafficPolicy: { outlierDetection: { baseEjectionTime: '1m' } } })]);
  t.deepEqual(table.policyFor(reviews, undefined, 9080)!.outlierDetection, {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 0,
    intervalMs: 10_000,
    baseEjectionTimeMs: 60_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
    minHealthPercent: 0,
  });
});

test('subset and port-level settings replace top-level fields whole, in Istio order', (t) => {
  const table = compileRoutes(
    [],
    [
      dr('r', {
        host: 'reviews',
        trafficPolicy: {
          loadBalancer: { simple: 'ROUND_ROBIN' },
          connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 10 } },
          portLevelSettings: [{ port: { number: 9443 }, loadBalancer: { simple: 'RANDOM' } }],
        },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          {
            name: 'v2',
            labels: { version: 'v2' },
            trafficPolicy: {
              connectionPool: { http: { http2MaxRequests: 5 } },
              portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }],
            },
          },
        ],
      }),
    ],
  );
  const v1 = table.policyFor(reviews, 'v1', 9080)!;
  t.deepEqual(v1.subsetLabels, { version: 'v1' });
  t.deepEqual(v1.loadBalancer, { kind: 'ROUND_ROBIN' });
  t.like(v1.connectionPool, { maxConnections: 100, http1MaxPendingRequests: 10 });
  t.deepEqual(table.policyFor(reviews, 'v1', 9443)!.loadBalancer, { kind: 'RANDOM' });
  const v2 = table.policyFor(reviews, 'v2', 9080)!;
  // The subset's connectionPool replaces the top-level one: maxConnections is back to the default.
  t.like(v2.connectionPool, { maxConnections: UNLIMITED, http1MaxPendingRequests: UNLIMITED, http2MaxRequests: 5 });
  t.deepEqual(v2.loadBalancer, { kind: 'CONSISTENT_HASH', hash: { httpHeaderName: 'x-user' } });
  t.deepEqual(table.policyFor(reviews, 'v2', 9443)!.loadBalancer, { kind: 'RANDOM' });
  t.is(v2.cluster, `outbound|9080|v2|${reviews}`);
  t.is(table.policyFor(reviews, 'v3', 9080), undefined);
  t.is(table.policyFor(reviews, 'v2', 9080), v2, 'cached per cluster');
});

test('a wildcard DestinationRule applies to hosts under it; an exact one wins', (t) => {
  const table = compileRoutes(
    [],
    [
      dr('wild', { host: '*.example.com', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
      dr('api', { host: 'api.example.com', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
    ],
  );
  t.deepEqual(table.policyFor('www.example.com', undefined, 80)!.loadBalancer, { kind: 'RANDOM' });
  t.deepEqual(table.policyFor('api.example.com', undefined, 80)!.loadBalancer, { kind: 'ROUND_ROBIN' });
});

test("upstream protocol: HTTP/1.1 by default, h2 under UPGRADE, the client's under useClientProtocol (which overrides UPGRADE)", (t) => {
  const pool = (http: Record<string, unknown>) =>
    compileRoutes([], [dr('r', { host: 'reviews', trafficPolicy: { connectionPool: { http } } })]).policyFor(reviews, undefined, 9080)!.connectionPool;
  t.is(upstreamProtocol(DEFAULT_CONNECTION_POOL, 'h2'), 'h1');
  t.is(upstreamProtocol(pool({ h2UpgradePolicy: 'UPGRADE' }), 'h1'), 'h2');
  t.is(upstreamProtocol(pool({ h2UpgradePolicy: 'DO_NOT_UPGRADE' }), 'h2'), 'h1');
  t.is(upstreamProtocol(pool({ useClientProtocol: true }), 'h2'), 'h2');
  t.is(upstreamProtocol(pool({ useClientProtocol: true, h2UpgradePolicy: 'UPGRADE' }), 'h1'), 'h1');
});
