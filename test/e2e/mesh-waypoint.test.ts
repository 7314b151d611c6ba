/**
 * Waypoints end to end on netns hosts with real daemons and Istio's Bookinfo
 * files unmodified: `ambit waypoint attach` makes c's daemon start a waypoint,
 * every daemon then sends the service's traffic through it (VirtualService and
 * DestinationRule apply), and `detach` returns to direct tunnels without a
 * failed request. The client is an enrolled user on a whose connections are
 * captured by iptables; reviews v1/v2/v3 run on b, c and d.
 */
import test from 'ava';
import { join } from 'node:path';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { istioFixtures, ISTIO_FIXTURES, MISSING_FIXTURES } from '../helpers/fixtures.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { httpLoad, type LoadResult } from '../helpers/http-load.js';
import { sumBy } from '../helpers/prometheus-text.js';

const CLIENT_UID = 2101;
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080/';
const RATINGS = 'http://ratings.default.svc.cluster.local:9090/';
const BOOKINFO = join(ISTIO_FIXTURES, 'bookinfo');

let mesh: Mesh;

const versionServer = (address: string, port: number, body: string): string =>
  `require('http').createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;

if (!istioFixtures('bookinfo')) {
  test.skip(`waypoint e2e with Istio's Bookinfo files: ${MISSING_FIXTURES}`, () => undefined);
} else {
  test.before(async () => {
    requireNetns();
    mesh = await createMesh(['a', 'b', 'c', 'd']);
    for (const host of ['a', 'b', 'c', 'd']) await mesh.startDaemon(host);
    const serve = async (host: string, name: string, version: string, port = 9080) => {
      const h = mesh.topo.host(host);
      await waitForOutput(mesh.topo.spawn(host, process.execPath, ['-e', versionServer(h.address, port, `${name}-${version}`)]), /listening/);
      const r = await mesh.ambit(host, ['enroll', name, '--port', String(port), '-l', `version=${version}`, '--node', host, '--address', h.address]);
      if (r.code !== 0) throw new Error(`enroll ${name} ${version}: ${r.stderr}`);
    };
    await serve('b', 'reviews', 'v1');
    await serve('c', 'reviews', 'v2');
    await serve('d', 'reviews', 'v3');
    await serve('b', 'ratings', 'v1', 9090);
    const client = await mesh.ambit('a', [
      'enroll',
      'productpage',
      '--port',
      '9080',
      '--user',
      String(CLIENT_UID),
      '-l',
      'app=productpage',
      '-l',
      'version=v1',
      '--node',
      'a',
      '--address',
      mesh.topo.host('a').address,
    ]);
    if (client.code !== 0) throw new Error(`enroll productpage: ${client.stderr}`);
    await eventually(async () => Object.keys((await load(REVIEWS, 30, 3)).bodies).length === 3, 30_000);
  });

  test.after.always(async () => {
    await mesh?.destroy();
  });

  test.serial('attach: c runs the waypoint, reports it ready, and list shows where it is', async (t) => {
    const attach = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'c']);
    t.is(attach.code, 0, attach.stderr);
    t.regex(attach.stdout, /waypoint for default\/reviews ready on node c at [\d.]+:15009, identity ns\/default\/sa\/reviews-waypoint/);
    const again = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'c']);
    t.is(again.code, 0, 'attaching twice is a no-op');
    const { items: list } = JSON.parse((await mesh.ambit('store', ['waypoint', 'list', '-o', 'json'])).stdout) as {
      items: { service: string; node: string; state: string; port: number }[];
    };
    t.like(list[0], { service: 'reviews', node: 'c', state: 'ready', port: 15009 });
    t.is(list.length, 1);
    const bad = await mesh.ambit('store', ['waypoint', 'attach', 'nosuch', '--node', 'c']);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /service default\/nosuch.*enroll it first/);
    const noNode = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'zz']);
    t.regex(noNode.stderr, /node zz.*no ambitd heartbeat/);
  });

  test.serial('destination-rule-all + reviews-jason-v2-v3: jason reaches v2, everyone else v3, verified by the waypoint', async (t) => {
    const apply = await mesh.ambit('store', [
      'apply',
      '-f',
      join(BOOKINFO, 'destination-rule-all.yaml'),
      '-f',
      join(BOOKINFO, 'virtual-service-reviews-jason-v2-v3.yaml'),
    ]);
    t.is(apply.code, 0, apply.stderr);
    await eventually(async () => Object.keys((await load(REVIEWS, 10, 2, ['end-user:jason'])).bodies).join() === 'reviews-v2', 15_000);
    const jason = await load(REVIEWS, 50, 5, ['end-user:jason']);
    const others = await load(REVIEWS, 50, 5, ['end-user:mark']);
    t.deepEqual(jason.bodies, { 'reviews-v2': 50 });
    t.deepEqual(others.bodies, { 'reviews-v3': 50 });
    // `ambit tunnels` shows the waypoint's own tunnels to the endpoints, reported by c's daemon.
    await eventually(
      async () =>
        /^c\s+cluster\.local\/ns\/default\/sa\/reviews-waypoint\s+cluster\.local\/ambit\/node\/c\s/m.test((await mesh.ambit('store', ['tunnels'])).stdout),
      10_000,
    );
    const metrics = await mesh.admin('c', '/metrics', 15021);
    t.regex(metrics, /istio_requests_total\{[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage"[^}]*destination_version="v2"/);
    // What an Istio dashboard asks: sum by (source_workload, destination_workload, destination_version, response_code).
    const edges = sumBy(metrics, 'istio_requests_total', ['source_workload', 'destination_workload', 'destination_version', 'response_code'], {
      reporter: 'waypoint',
    });
    t.log(Object.fromEntries(edges));
    for (const key of edges.keys()) t.regex(key, /^productpage-v1\|reviews-(v[123])\|\1\|200$/, 'one series per real edge, named for its workloads');
    t.true((edges.get('productpage-v1|reviews-v2|v2|200') ?? 0) >= 50, "jason's requests on the v2 edge");
    t.true((edges.get('productpage-v1|reviews-v3|v3|200') ?? 0) >= 50, "everyone else's on the v3 edge");
  });

  test.serial('sourceLabels: the waypoint matches the labels of the workload behind the verified caller', async (t) => {
    const vs = (labels: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{sourceLabels: {${labels}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`;
    const apply = async (labels: string) => {
      const r = await mesh.ambit('store', ['apply', '-f', '-'], vs(labels));
      t.is(r.code, 0, r.stderr);
    };
    await apply('app: productpage, version: v1');
    await eventually(async () => Object.keys((await load(REVIEWS, 5, 1)).bodies).join() === 'reviews-v2', 15_000);
    t.deepEqual((await load(REVIEWS, 20, 4)).bodies, { 'reviews-v2': 20 }, "productpage v1's labels match");
    await apply('app: productpage, version: v9');
    await eventually(async () => Object.keys((await load(REVIEWS, 5, 1)).bodies).join() === 'reviews-v1', 15_000);
    t.deepEqual((await load(REVIEWS, 20, 4)).bodies, { 'reviews-v1': 20 }, 'a label the caller lacks does not match');
  });

  test.serial('reviews-80-20, -90-10 and -50-v3: each split holds within 4 standard deviations over 2,000 requests', async (t) => {
    const splits: [string, string, number][] = [
      ['virtual-service-reviews-80-20.yaml', 'reviews-v1', 80],
      ['virtual-service-reviews-90-10.yaml', 'reviews-v1', 90],
      ['virtual-service-reviews-50-v3.yaml', 'reviews-v3', 50],
    ];
    for (const [file, version, share] of splits) {
      const apply = await mesh.ambit('store', ['apply', '-f', join(BOOKINFO, file)]);
      t.is(apply.code, 0, apply.stderr);
      // Wait until the waypoint routes by this file: the other version of the pair shows up, the jason rule is gone.
      await eventually(async () => ((await load(REVIEWS, 40, 4, ['end-user:jason'])).bodies[version] ?? 0) > 0, 15_000);
      const r = await load(REVIEWS, 2000, 16);
      t.deepEqual(r.errors, {});
      if (r.statuses['200'] !== 2000) t.log(failedRequests());
      t.deepEqual(r.statuses, { 200: 2000 }, 'every request succeeds');
      const got = (100 * (r.bodies[version] ?? 0)) / 2000;
      // Each request is a Bernoulli draw: 4 standard deviations of the share at n=2000 (2.7 % at 90/10,
      // 4.5 % at 50/50) fail a correct split once in ~16,000 runs, and still catch a split that is off.
      const bound = 4 * 100 * Math.sqrt(((share / 100) * (1 - share / 100)) / 2000);
      t.log(`${file}: ${version} ${got.toFixed(1)} % (want ${share} ±${bound.toFixed(1)}), all: ${JSON.stringify(r.bodies)}`);
      t.true(Math.abs(got - share) <= bound, `${file}: ${version} got ${got} %`);
    }
  });

  test.serial('connections the client closed leave no tunnel behind', async (t) => {
    await load(REVIEWS, 200, 8);
    type Tunnels = { outbound: { streamsActive: number }[] };
    const open = async () => (JSON.parse(await mesh.admin('a', '/tunnels')) as Tunnels).outbound.reduce((n, x) => n + x.streamsActive, 0);
    await eventually(async () => (await open()) === 0, 10_000);
    t.is(await open(), 0, 'every stream to the waypoint ended with its client connection');
  });

  test.serial('ratings-test-delay: jason waits 7 s, others do not; ratings-test-abort: jason gets 500', async (t) => {
    const attach = await mesh.ambit('store', ['waypoint', 'attach', 'ratings', '--node', 'c']);
    t.is(attach.code, 0, attach.stderr);
    t.regex(attach.stdout, /:15010,/, 'the second waypoint on c takes the next port');
    const delay = await mesh.ambit('store', ['apply', '-f', join(BOOKINFO, 'virtual-service-ratings-test-delay.yaml')]);
    t.is(delay.code, 0, delay.stderr);
    await eventually(async () => ((await load(RATINGS, 1, 1, ['end-user:jason'])).durationsMs[0] ?? 0) >= 7000, 30_000);
    const [jason, other] = await Promise.all([load(RATINGS, 2, 2, ['end-user:jason']), load(RATINGS, 5, 1)]);
    // The bound: >= 7 s and < 8 s. Others are not delayed at all; their margin only absorbs a loaded CI machine.
    for (const ms of jason.durationsMs) t.true(ms >= 7000 && ms < 8000, `jason took ${ms} ms`);
    t.deepEqual(jason.statuses, { 200: 2 }, failedRequests());
    for (const ms of other.durationsMs) t.true(ms < 2000, `others took ${ms} ms`);
    t.deepEqual(other.statuses, { 200: 5 }, failedRequests());
    const abort = await mesh.ambit('store', ['apply', '-f', join(BOOKINFO, 'virtual-service-ratings-test-abort.yaml')]);
    t.is(abort.code, 0, abort.stderr);
    await eventually(async () => (await load(RATINGS, 1, 1, ['end-user:jason'])).statuses['500'] === 1, 15_000);
    t.deepEqual((await load(RATINGS, 20, 4, ['end-user:jason'])).statuses, { 500: 20 }, failedRequests());
    t.deepEqual((await load(RATINGS, 20, 4)).statuses, { 200: 20 }, failedRequests());
  });

  test.serial('detach under load: no request fails, and traffic goes back to direct tunnels', async (t) => {
    const during = load(REVIEWS, 3000, 8);
    await new Promise((r) => setTimeout(r, 1000));
    const detach = await mesh.ambit('store', ['waypoint', 'detach', 'reviews']);
    t.is(detach.code, 0, detach.stderr);
    const r = await during;
    t.deepEqual(r.errors, {}, 'no connection failed while the waypoint went away');
    t.deepEqual(Object.keys(r.statuses), ['200']);
    // Direct L4: the daemon balances over all endpoints; VirtualService routing is gone.
    await eventually(async () => Object.keys((await load(REVIEWS, 30, 3, ['end-user:jason'])).bodies).length === 3, 15_000);
    await eventually(async () => !/"service":"reviews"/.test(await mesh.admin('c', '/tunnels')), 20_000);
    const list = (await mesh.ambit('store', ['waypoint', 'list'])).stdout;
    t.notRegex(list, /reviews\s/);
    t.regex(list, /ratings/);
  });
}

/** The waypoints' access-log lines (they log through c's daemon) for requests that did not get a 200, and warnings. */
function failedRequests(): string {
  return mesh
    .logs('c')
    .split('\n')
    .filter((l) => /"response_code":(?!200)\d+|"level":[45]0/.test(l))
    .slice(-20)
    .join('\n');
}

function load(url: string, count: number, concurrency: number, headers: string[] = []): Promise<LoadResult> {
  return httpLoad(mesh, 'a', CLIENT_UID, url, count, concurrency, headers);
}
