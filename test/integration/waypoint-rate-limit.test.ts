/**
 * RateLimit in running waypoints: local buckets per waypoint, global buckets
 * shared by two waypoints through a real redis-server (the Lua script), the
 * 429 and its headers, per-key buckets, and the failureMode when the store
 * stops answering.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { parseDocuments, type Resource } from '../../core/config/index.js';
import { StoreBuckets } from '../../waypoint/ratelimit/buckets.js';
import { startRedis } from '../helpers/redis.js';
import { startWaypoint, type WaypointHarness } from '../helpers/waypoint-harness.js';

const REVIEWS = [{ service: 'reviews', version: 'v1' }];

function rateLimit(spec: string): Resource[] {
  return parseDocuments(
    `apiVersion: ambit.dev/v1alpha1
kind: RateLimit
metadata: {name: reviews-limit, namespace: default}
spec:
  targetRefs: [{kind: Service, name: reviews}]
${spec.replace(/^/gm, '  ')}
`,
    'rl.yaml',
  );
}

async function statuses(h: WaypointHarness, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await h.request({ headers })).status);
  return out;
}
const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;

test('local: a burst of 5 then 429 with Envoy and IETF headers; a bucket per header value; counted', async (t) => {
  const h = await startWaypoint(t, REVIEWS, rateLimit('rules:\n- name: per-user\n  requests: 1\n  unit: hour\n  burst: 5\n  key: {header: x-user}'));
  const jason = await statuses(h, 8, { 'x-user': 'jason' });
  t.deepEqual(jason, [200, 200, 200, 200, 200, 429, 429, 429]);
  t.is(count(await statuses(h, 8, { 'x-user': 'alice' }), 200), 5, 'alice has her own bucket');
  const r = await h.request({ headers: { 'x-user': 'jason' } });
  t.is(r.status, 429);
  t.is(r.body, 'local_rate_limited');
  t.is(r.headers['x-envoy-ratelimited'], 'true');
  t.is(r.headers['ratelimit-policy'], '"per-user";q=1;w=3600');
  t.regex(String(r.headers.ratelimit), /^"per-user";r=0;t=\d+$/);
  t.true(Number(r.headers['retry-after']) > 3000);
  t.regex(await h.waypoint.metrics.registry.metrics(), /ambit_waypoint_rate_limited_total\{rule="default\/reviews-limit\/per-user",mode="local"\} 7/);
  t.is(h.accessLog.at(-1)?.response_flags, 'RL');
});

test('local: matches narrow a rule to a method and path prefix; tokens refill at the rate', async (t) => {
  const h = await startWaypoint(
    t,
    REVIEWS,
    rateLimit('rules:\n- name: api-posts\n  match: {methods: [POST], pathPrefix: /api}\n  requests: 1\n  unit: second\n  burst: 2'),
  );
  t.deepEqual(await statuses(h, 4), [200, 200, 200, 200], 'GET / is not limited');
  const post = async () => (await h.request({ method: 'POST', path: '/api/x' })).status;
  t.deepEqual([await post(), await post(), await post()], [200, 200, 429]);
  await new Promise((r) => setTimeout(r, 1100));
  t.is(await post(), 200, 'refilled at 1/s');
});

test('global: two waypoints share one bucket through the store; with the store gone, failureMode decides', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const clients: Redis[] = [];
  const buckets = () => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    clients.push(c);
    return new StoreBuckets(c, 'ambit:ratelimit:', 200);
  };
  t.teardown(() => clients.forEach((c) => c.disconnect()));
  const spec = (failureMode: string) => `mode: global\nfailureMode: ${failureMode}\nrules:\n- name: shared\n  requests: 1\n  unit: hour\n  burst: 10`;
  const a = await startWaypoint(t, REVIEWS, rateLimit(spec('allow')), { rateLimitStore: buckets() });
  const b = await startWaypoint(t, REVIEWS, rateLimit(spec('allow')), { rateLimitStore: buckets() });
  const seen: number[] = [];
  for (let i = 0; i < 15; i++) seen.push((await (i % 2 ? a : b).request()).status);
  t.is(count(seen, 200), 10, `10 of 15 across both waypoints: ${seen.join(',')}`);
  const last = await a.request();
  t.is(last.status, 429);
  t.is(last.body, '');
  t.is(last.headers['x-envoy-ratelimited'], 'true');

  await redis.kill();
  t.deepEqual(await statuses(a, 3), [200, 200, 200], 'failureMode allow: the store is gone, requests pass');
  t.regex(
    await a.waypoint.metrics.registry.metrics(),
    /ambit_waypoint_rate_limit_store_errors_total\{rule="default\/reviews-limit\/shared",failure_mode="allow"\} 3/,
  );
  b.apply(rateLimit(spec('deny')));
  t.deepEqual(await statuses(b, 2), [429, 429], 'failureMode deny: refused');
});
