/**
 * Request mirroring through real HBONE hops: the mirror destination gets a
 * copy (method, path, headers, replayed body, `-shadow` on the authority as
 * Envoy does) for the configured percentage; its answer is dropped and its
 * slowness or failure never reaches the client; every copy is counted.
 */
import test from 'ava';
import { until } from '../helpers/hbone-harness.js';
import { many, resource, startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';

const SUBSETS = resource('DestinationRule', 'reviews', {
  host: 'reviews',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});
const mirrorTo = (mirror: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  resource('VirtualService', 'reviews', {
    hosts: ['reviews'],
    http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }], ...mirror, ...extra }],
  });
const mirrored = async (h: Awaited<ReturnType<typeof startWaypoint>>): Promise<Record<string, number>> => {
  const out: Record<string, number> = {};
  for (const v of (await h.waypoint.metrics.mirrors.get()).values) out[String(v.labels.outcome)] = (out[String(v.labels.outcome)] ?? 0) + v.value;
  return out;
};
/** The mirror counts once `total` copies have ended (they finish after the client's answer). */
async function mirroredWhen(h: Awaited<ReturnType<typeof startWaypoint>>, total: number): Promise<Record<string, number>> {
  const end = Date.now() + 3000;
  for (;;) {
    const m = await mirrored(h);
    if (Object.values(m).reduce((a, b) => a + b, 0) >= total || Date.now() > end) return m;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("the mirror gets a copy with the -shadow authority and the body; the client gets the primary's answer", async (t) => {
  const copies: { method: string; url: string; host: string; body: string; custom: string }[] = [];
  const shadow: EndpointSpec = {
    service: 'reviews',
    version: 'v2',
    handler: (req, res, body) => {
      copies.push({ method: req.method!, url: req.url!, host: String(req.headers.host), body, custom: String(req.headers['x-custom']) });
      res.end('from the mirror');
    },
  };
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }, shadow], [SUBSETS, mirrorTo({ mirror: { host: 'reviews', subset: 'v2' } })]);
  const r = await h.request({ method: 'POST', path: '/reviews/1?q=2', body: 'the body', headers: { 'x-custom': 'kept', 'content-type': 'text/plain' } });
  t.is(r.status, 200);
  t.is(r.body, 'reviews-v1');
  await until(() => copies.length === 1, 3000);
  t.deepEqual(copies[0], { method: 'POST', url: '/reviews/1?q=2', host: 'reviews-shadow:9080', body: 'the body', custom: 'kept' });
  t.deepEqual(await mirroredWhen(h, 1), { 200: 1 });
});

test("an h2c client's request is mirrored too, :authority suffixed", async (t) => {
  const hosts: string[] = [];
  const shadow: EndpointSpec = { service: 'reviews', version: 'v2', handler: (req, res) => void (hosts.push(String(req.headers.host)), res.end()) };
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }, shadow], [SUBSETS, mirrorTo({ mirror: { host: 'reviews', subset: 'v2' } })]);
  t.is((await h.request({ h2: true })).body, 'reviews-v1');
  await until(() => hosts.length === 1, 3000);
  t.is(hosts[0], 'reviews-shadow:9080');
});

test('a slow or failing mirror never delays or fails the client', async (t) => {
  let n = 0;
  const bad: EndpointSpec = {
    service: 'reviews',
    version: 'v2',
    handler: (req, res) => {
      // Alternately: answer 500 after a second, or cut the connection.
      if (n++ % 2 === 0) setTimeout(() => res.writeHead(500).end('mirror broke'), 1000).unref();
      else req.socket.destroy();
    },
  };
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }, bad], [SUBSETS, mirrorTo({ mirror: { host: 'reviews', subset: 'v2' } })]);
  const replies = await many(6, 3, () => h.request());
  t.true(replies.every((r) => r.status === 200 && r.body === 'reviews-v1'));
  t.true(Math.max(...replies.map((r) => r.ms)) < 800, `client latencies ${replies.map((r) => r.ms).join(',')} ms`);
  const outcomes = await mirroredWhen(h, 6);
  t.deepEqual(outcomes, { 500: 3, reset: 3 });
});

test('mirrorPercentage 25: about a quarter of 400 requests are copied', async (t) => {
  const h = await startWaypoint(
    t,
    [
      { service: 'reviews', version: 'v1' },
      { service: 'reviews', version: 'v2' },
    ],
    [SUBSETS, mirrorTo({ mirror: { host: 'reviews', subset: 'v2' }, mirrorPercentage: { value: 25 } })],
  );
  await many(400, 20, () => h.request());
  await new Promise((r) => setTimeout(r, 200));
  const copies = h.hits.get('reviews-v2') ?? 0;
  t.log(`${copies} of 400 mirrored`);
  // Binomial(400, 0.25): sd ~8.7; 4 sd either way.
  t.true(copies >= 65 && copies <= 135, `${copies} mirrored`);
});

test('a mirror with nowhere to go is counted and skipped', async (t) => {
  const h = await startWaypoint(
    t,
    [{ service: 'reviews', version: 'v1' }],
    [SUBSETS, mirrorTo({ mirrors: [{ destination: { host: 'reviews', subset: 'v2' } }, { destination: { host: 'reviews', subset: 'v9' } }] })],
  );
  t.is((await h.request()).body, 'reviews-v1');
  t.deepEqual(await mirroredWhen(h, 2), { no_endpoint: 1, no_cluster: 1 });
});
