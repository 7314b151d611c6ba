import test from 'ava';
import {
  createBalancer,
  LeastRequestBalancer,
  RequestLoad,
  RingHashBalancer,
  RoundRobinBalancer,
  subsetEndpoints,
  type Endpoint,
} from '../../core/routing/index.js';
import { seeded } from './waypoint-helpers.js';

const eps = (n: number, labels: (i: number) => Record<string, string> = () => ({})): Endpoint[] =>
  Array.from({ length: n }, (_, i) => ({ key: `10.0.0.${i + 1}:9080`, address: `10.0.0.${i + 1}`, port: 9080, labels: labels(i) }));

test('subsetEndpoints keeps endpoints carrying every label, and caches the list', (t) => {
  const all = eps(4, (i) => ({ app: 'reviews', version: i % 2 === 0 ? 'v1' : 'v2' }));
  const labels = { version: 'v2' };
  const v2 = subsetEndpoints(all, labels);
  t.deepEqual(
    v2.map((e) => e.address),
    ['10.0.0.2', '10.0.0.4'],
  );
  t.is(subsetEndpoints(all, labels), v2);
  t.is(subsetEndpoints(all, undefined), all);
});

test('ROUND_ROBIN visits endpoints in order and wraps', (t) => {
  const rr = new RoundRobinBalancer();
  const list = eps(3);
  t.deepEqual(
    Array.from({ length: 7 }, () => rr.pick(list)!.address),
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1'],
  );
  t.is(rr.pick([]), undefined);
});

test('LEAST_REQUEST prefers the idle endpoint of two (distinct power-of-two choices)', (t) => {
  const load = new RequestLoad();
  const list = eps(2);
  for (let i = 0; i < 10; i++) load.begin(list[0]!.key);
  const lb = new LeastRequestBalancer(load, seeded(1));
  for (let i = 0; i < 1000; i++) t.is(lb.pick(list)!.key, list[1]!.key);
  for (let i = 0; i < 10; i++) load.end(list[0]!.key);
  t.is(load.active(list[0]!.key), 0);
});

test('LEAST_REQUEST over many endpoints sends most picks to the less loaded half', (t) => {
  const load = new RequestLoad();
  const list = eps(10);
  list.slice(0, 5).forEach((e) => {
    for (let i = 0; i < 5; i++) load.begin(e.key);
  });
  const lb = new LeastRequestBalancer(load, seeded(7));
  let idle = 0;
  for (let i = 0; i < 10_000; i++) if (load.active(lb.pick(list)!.key) === 0) idle++;
  // P(at least one of two distinct picks is idle) = 1 - (5/10)(4/9) ≈ 0.78
  t.true(idle > 7_500 && idle < 8_100, `idle picks ${idle}`);
});

test('RANDOM spreads uniformly', (t) => {
  const lb = createBalancer({ kind: 'RANDOM' }, { rng: seeded(3) });
  const list = eps(4);
  const counts = new Map<string, number>();
  for (let i = 0; i < 8000; i++) {
    const k = lb.pick(list)!.key;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const n of counts.values()) t.true(n > 1800 && n < 2200);
});

const headerCtx = (user: string) => ({ request: { headers: { 'x-user': user }, path: '/', sourceIp: '10.1.1.1' } });

test('consistent hash: the same key lands on the same endpoint', (t) => {
  const lb = new RingHashBalancer({ httpHeaderName: 'x-user' });
  const list = eps(5);
  for (const user of ['alice', 'bob', 'carol']) {
    const first = lb.pick(list, headerCtx(user))!.key;
    for (let i = 0; i < 20; i++) t.is(lb.pick(list, headerCtx(user))!.key, first);
  }
});

test('consistent hash: removing 1 of 10 endpoints remaps only about a tenth of the keys', (t) => {
  const lb = new RingHashBalancer({ httpHeaderName: 'x-user' });
  const ten = eps(10);
  const nine = ten.filter((_, i) => i !== 3);
  let moved = 0;
  const keys = 10_000;
  for (let i = 0; i < keys; i++) {
    const ctx = headerCtx(`user-${i}`);
    const before = lb.pick(ten, ctx)!;
    const after = lb.pick(nine, ctx)!;
    if (before.key !== after.key) {
      moved++;
      t.is(before.key, ten[3]!.key, 'only keys of the removed endpoint move');
    }
  }
  t.true(moved / keys <= 0.15, `moved ${((100 * moved) / keys).toFixed(1)}%`);
  t.true(moved / keys >= 0.05, `moved ${((100 * moved) / keys).toFixed(1)}%`);
});

test('consistent hash keys: cookie, source IP, query parameter; a missing key picks at random', (t) => {
  const list = eps(8);
  const cookie = new RingHashBalancer({ httpCookie: { name: 'sid' } });
  const withCookie = (v: string) => ({ request: { headers: { cookie: `a=1; sid=${v}` }, path: '/' } });
  t.is(cookie.pick(list, withCookie('s1'))!.key, cookie.pick(list, withCookie('s1'))!.key);
  const ip = new RingHashBalancer({ useSourceIp: true });
  const from = (sourceIp: string) => ({ request: { headers: {}, path: '/', sourceIp } });
  t.is(ip.pick(list, from('10.9.9.9'))!.key, ip.pick(list, from('10.9.9.9'))!.key);
  const query = new RingHashBalancer({ httpQueryParameterName: 'shard' });
  t.is(query.hashKey({ request: { headers: {}, path: '/x?a=1&shard=7' } }), '7');
  const missing = new RingHashBalancer({ httpHeaderName: 'x-user' }, seeded(5));
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(missing.pick(list, { request: { headers: {}, path: '/' } })!.key);
  t.true(seen.size > 4);
});

test('consistent hash cookie with a ttl is generated when absent, and the proxy is told to set it', (t) => {
  const lb = new RingHashBalancer({ httpCookie: { name: 'sid', path: '/', ttl: 60_000 } });
  const ctx: Parameters<typeof lb.pick>[1] = { request: { headers: {}, path: '/', sourceIp: '10.2.2.2' } };
  const ep = lb.pick(eps(6), ctx)!;
  t.like(ctx.setCookie, { name: 'sid', path: '/', ttlMs: 60_000 });
  const again = lb.pick(eps(6), { request: { headers: { cookie: `sid=${ctx.setCookie!.value}` }, path: '/' } })!;
  t.is(again.address, ep.address);
});
