import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadFiles, normalize, type TypedResource } from '../../core/config/index.js';
import { compileRoutes, injectFault, type RouteDecision, type RouteTable } from '../../core/routing/index.js';
import { req, seeded } from './waypoint-helpers.js';

// Istio's own Bookinfo samples, unmodified, are the compatibility target (DESIGN.md).
const BOOKINFO = path.resolve(process.cwd(), '../shared/fixtures/istio/bookinfo');

async function table(...files: string[]): Promise<RouteTable> {
  const resources = (await loadFiles(files.map((f) => path.join(BOOKINFO, f)))).map((r) => normalize(r));
  const of = (kind: string): TypedResource[] => resources.filter((r) => r.kind === kind);
  return compileRoutes(of('VirtualService'), of('DestinationRule'));
}

const subset = (d: RouteDecision) => (d.kind === 'route' ? d.destination.subset : d.kind);

/** Share of `n` seeded picks that land on each subset. */
function shares(t: RouteTable, n = 10_000): Record<string, number> {
  const rng = seeded(20240601);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const s = String(subset(t.route(req({ host: 'reviews:9080' }), rng)));
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, (100 * v) / n]));
}

if (!existsSync(BOOKINFO)) {
  test.skip(`Bookinfo routing: ${BOOKINFO} is absent`, (t) => {
    t.log(`SKIPPED: ${BOOKINFO} not found; run from a checkout next to ../shared`);
  });
} else {
  test('reviews-jason-v2-v3: end-user jason goes to v2, everyone else to v3, with subset labels from destination-rule-all', async (t) => {
    const rt = await table('destination-rule-all.yaml', 'virtual-service-reviews-jason-v2-v3.yaml');
    const jason = rt.route(req({ headers: { 'end-user': 'jason' } }));
    t.is(subset(jason), 'v2');
    t.deepEqual(jason.kind === 'route' ? jason.policy?.subsetLabels : undefined, { version: 'v2' });
    t.is(subset(rt.route(req({ headers: { 'end-user': 'mark' } }))), 'v3');
    t.is(subset(rt.route(req())), 'v3');
  });

  test('reviews-80-20: 10,000 seeded picks give 80±1.5% v1', async (t) => {
    const s = shares(await table('destination-rule-all.yaml', 'virtual-service-reviews-80-20.yaml'));
    t.true(Math.abs((s.v1 ?? 0) - 80) <= 1.5, JSON.stringify(s));
    t.true(Math.abs((s.v2 ?? 0) - 20) <= 1.5, JSON.stringify(s));
  });

  test('reviews-90-10: 90±1.5% v1', async (t) => {
    const s = shares(await table('destination-rule-all.yaml', 'virtual-service-reviews-90-10.yaml'));
    t.true(Math.abs((s.v1 ?? 0) - 90) <= 1.5, JSON.stringify(s));
  });

  test('reviews-50-v3: 50±1.5% v1, the rest v3', async (t) => {
    const s = shares(await table('destination-rule-all.yaml', 'virtual-service-reviews-50-v3.yaml'));
    t.true(Math.abs((s.v1 ?? 0) - 50) <= 1.5, JSON.stringify(s));
    t.true(Math.abs((s.v3 ?? 0) - 50) <= 1.5, JSON.stringify(s));
  });

  test('ratings-test-delay: jason gets a 7000 ms delay on 100% of requests, others none', async (t) => {
    const rt = await table('destination-rule-all.yaml', 'virtual-service-ratings-test-delay.yaml');
    const jason = rt.route(req({ host: 'ratings:9080', headers: { 'end-user': 'jason' } }));
    if (jason.kind !== 'route') return t.fail();
    t.like(jason.fault, { delayMs: 7000, delayPercent: 100 });
    t.is(injectFault(jason.fault, seeded(1)).delayMs, 7000);
    t.is(jason.destination.subset, 'v1');
    const other = rt.route(req({ host: 'ratings:9080' }));
    t.is(other.kind === 'route' ? other.fault : 'x', undefined);
  });

  test('ratings-test-abort: jason gets a 500, others reach ratings v1', async (t) => {
    const rt = await table('destination-rule-all.yaml', 'virtual-service-ratings-test-abort.yaml');
    const jason = rt.route(req({ host: 'ratings:9080', headers: { 'end-user': 'jason' } }));
    if (jason.kind !== 'route') return t.fail();
    t.like(jason.fault, { abortStatus: 500, abortPercent: 100 });
    t.deepEqual(injectFault(jason.fault, seeded(2)), { delayMs: 0, abortStatus: 500 });
    const other = rt.route(req({ host: 'ratings:9080', headers: { 'end-user': 'mark' } }));
    t.is(subset(other), 'v1');
    t.is(other.kind === 'route' ? other.fault : 'x', undefined);
  });

  test('virtual-service-all-v1: every Bookinfo service routes to v1; hosts without a VirtualService keep the default route', async (t) => {
    const rt = await table('destination-rule-all.yaml', 'virtual-service-all-v1.yaml');
    for (const host of ['productpage', 'reviews', 'ratings', 'details']) t.is(subset(rt.route(req({ host: `${host}:9080` }))), 'v1', host);
    const d = rt.route(req({ host: 'unknown:80', port: 80 }));
    t.like(d, { kind: 'route', virtualService: undefined, destination: { host: 'unknown.default.svc.cluster.local', port: 80 } });
  });
}
