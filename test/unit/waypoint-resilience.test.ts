import test from 'ava';
import { CircuitBreaker, CircuitBreakers, DEFAULT_CONNECTION_POOL, OutlierDetector, type Endpoint, type OutlierSettings } from '../../core/routing/index.js';

test('circuit breaker: each limit overflows with its own reason, and release frees a slot', (t) => {
  const cb = new CircuitBreaker({ ...DEFAULT_CONNECTION_POOL, maxConnections: 1, http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRetries: 0 });
  const conn = cb.tryAcquire('connection');
  t.is(typeof conn, 'function');
  t.is(cb.tryAcquire('connection'), 'connections');
  const pending = cb.tryAcquire('pending');
  t.is(cb.tryAcquire('pending'), 'pending');
  const r1 = cb.tryAcquire('request');
  const r2 = cb.tryAcquire('request');
  t.is(cb.tryAcquire('request'), 'requests');
  t.is(cb.tryAcquire('retry'), 'retries');
  if (typeof r1 !== 'function' || typeof r2 !== 'function' || typeof pending !== 'function' || typeof conn !== 'function') return t.fail();
  r1();
  t.is(cb.active('request'), 1);
  t.is(typeof cb.tryAcquire('request'), 'function');
  pending();
  conn();
  t.deepEqual(cb.snapshot().connection, { active: 0, limit: 1 });
});

test('circuit breakers are per cluster and keep counts across a limit change', (t) => {
  const all = new CircuitBreakers();
  const a = all.for('outbound|9080|v1|reviews', { ...DEFAULT_CONNECTION_POOL, http2MaxRequests: 1 });
  t.is(typeof a.tryAcquire('request'), 'function');
  t.is(all.for('outbound|9080|v2|reviews', DEFAULT_CONNECTION_POOL).active('request'), 0);
  t.is(all.for('outbound|9080|v1|reviews', { ...DEFAULT_CONNECTION_POOL, http2MaxRequests: 1 }).tryAcquire('request'), 'requests');
  t.is(all.for('outbound|9080|v1|reviews', { ...DEFAULT_CONNECTION_POOL, http2MaxRequests: 2 }).active('request'), 1);
});

const settings = (over: Partial<OutlierSettings> = {}): OutlierSettings => ({
  consecutive5xxErrors: 3,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
  ...over,
});
const eps = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => ({ key: `h${i}`, address: `10.0.0.${i}`, port: 80, labels: {} }));

function detector(over: Partial<OutlierSettings> = {}, n = 4) {
  let now = 0;
  const d = new OutlierDetector(settings(over), { now: () => now });
  const list = eps(n);
  d.setEndpoints(list.map((e) => e.key));
  return {
    d,
    list,
    at: (ms: number) => {
      now = ms;
    },
  };
}

test('outlier: consecutive 5xx eject; a success in between resets the count', (t) => {
  const { d, list } = detector();
  d.report('h0', { status: 500 });
  d.report('h0', { status: 500 });
  d.report('h0', { status: 200 });
  d.report('h0', { status: 500 });
  d.report('h0', { status: 500 });
  t.false(d.isEjected('h0'));
  t.true(d.report('h0', { error: 'connect-failure' }));
  t.true(d.isEjected('h0'));
  t.deepEqual(
    d.healthy(list).map((e) => e.key),
    ['h1', 'h2', 'h3'],
  );
});

test('outlier: ejected endpoint returns at the first interval sweep after baseEjectionTime, then for longer next time', (t) => {
  const { d, list, at } = detector();
  for (let i = 0; i < 3; i++) d.report('h1', { status: 503 });
  t.true(d.isEjected('h1'));
  at(29_999);
  t.true(d.isEjected('h1'));
  at(30_000);
  t.false(d.isEjected('h1'));
  t.is(d.healthy(list).length, 4);
  // Ejected again straight away: base × 2.
  for (let i = 0; i < 3; i++) d.report('h1', { status: 500 });
  t.deepEqual(d.ejections(), [{ key: 'h1', since: 30_000, until: 90_000, backoff: 2 }]);
  at(89_999);
  t.true(d.isEjected('h1'));
  at(90_000);
  t.false(d.isEjected('h1'));
});

test('outlier: return happens on the interval grid, not at the exact ejection end', (t) => {
  const { d, at } = detector({ baseEjectionTimeMs: 25_000 });
  at(1_000);
  for (let i = 0; i < 3; i++) d.report('h0', { status: 500 });
  at(26_000);
  t.true(d.isEjected('h0'), 'ejection ended at 26s but the next sweep is at 30s');
  at(30_000);
  t.false(d.isEjected('h0'));
});

test('outlier: maxEjectionPercent caps ejections, counting the one about to be ejected', (t) => {
  const { d, list } = detector({ maxEjectionPercent: 50 }, 4);
  for (const k of ['h0', 'h1', 'h2']) for (let i = 0; i < 3; i++) d.report(k, { status: 500 });
  t.deepEqual(
    d.ejections().map((e) => e.key),
    ['h0', 'h1'],
  );
  t.is(d.healthy(list).length, 2);
  // Envoy's default 10% ejects nothing in a cluster of fewer than ten endpoints.
  const small = detector({ maxEjectionPercent: 10 }, 5);
  for (let i = 0; i < 3; i++) small.d.report('h0', { status: 500 });
  t.false(small.d.isEjected('h0'));
});

test('outlier: gateway errors eject only when consecutiveGatewayErrors is set; other 5xx reset that count', (t) => {
  const { d } = detector({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 });
  d.report('h0', { status: 502 });
  d.report('h0', { status: 500 });
  d.report('h0', { status: 504 });
  t.false(d.isEjected('h0'));
  d.report('h0', { error: 'timeout' });
  t.true(d.isEjected('h0'));
  const off = detector({ consecutive5xxErrors: 0 });
  for (let i = 0; i < 20; i++) off.d.report('h0', { status: 503 });
  t.false(off.d.isEjected('h0'));
});

test('outlier: below minHealthPercent healthy, panic mode uses every endpoint', (t) => {
  const { d, list } = detector({ minHealthPercent: 80 });
  for (let i = 0; i < 3; i++) d.report('h0', { status: 500 });
  t.true(d.isEjected('h0'));
  t.is(d.healthy(list), list);
});
