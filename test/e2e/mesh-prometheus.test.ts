/**
 * A real Prometheus (Debian's package, /usr/bin/prometheus) on its own netns
 * host scrapes two daemons and a waypoint it found only through the file_sd
 * JSON `ambit prometheus sd --waypoints` wrote: no hand-written targets. Then
 * the queries an Istio dashboard runs give the traffic the test sent: one
 * series per real edge of `sum by (source_workload, destination_workload,
 * destination_version, response_code) (rate(istio_requests_total{reporter="waypoint"}[1m]))`,
 * and `istio_tcp_connections_opened_total - istio_tcp_connections_closed_total`
 * at 0 on every series once the connections closed.
 *
 * a: the client (productpage v1, an enrolled user) and reviews v2; b: reviews
 * v1 and the reviews waypoint, whose daemon sets waypointMetricsAddress to b's
 * address so the central Prometheus can reach it (docs/prometheus.md).
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { httpLoad, type LoadResult } from '../helpers/http-load.js';

const PROMETHEUS = '/usr/bin/prometheus';
const CLIENT_UID = 2101;
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080/';
const EDGE_QUERY = 'sum by (source_workload, destination_workload, destination_version, response_code) (rate(istio_requests_total{reporter="waypoint"}[1m]))';

/** Jason's requests go to v2, everyone else's to v1; idle upstream connections close after 1 s, so "all connections closed" comes soon. */
const ROUTING = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {http: {idleTimeout: 1s}}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`;

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

let mesh: Mesh;
let dir: string;
let prometheus: ChildProcess | undefined;
let promLog = '';

const load = (count: number, concurrency: number, headers: string[] = []): Promise<LoadResult> =>
  httpLoad(mesh, 'a', CLIENT_UID, REVIEWS, count, concurrency, headers);

/** An instant query against the Prometheus API, from inside the store host. */
async function query(promql: string): Promise<PromSample[]> {
  const at = `http://${mesh.topo.host('store').address}:9090/api/v1/query`;
  const r = await mesh.topo.exec('store', 'curl', ['-sS', '--max-time', '5', '--data-urlencode', `query=${promql}`, at]);
  if (r.code !== 0) throw new Error(`query ${promql}: ${r.stderr}`);
  const body = JSON.parse(r.stdout) as { status: string; error?: string; data: { resultType: string; result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
  return body.data.result;
}

const edgeKey = (m: Record<string, string>) => `${m.source_workload}|${m.destination_workload}|${m.destination_version}|${m.response_code}`;

/** The raw counter per edge: exact, where rate() extrapolates. */
async function counts(): Promise<Map<string, number>> {
  const rows = await query('sum by (source_workload, destination_workload, destination_version, response_code) (istio_requests_total{reporter="waypoint"})');
  return new Map(rows.map((r) => [edgeKey(r.metric), Number(r.value[1])]));
}

test.before(async () => {
  requireNetns();
  // scripts/test.sh installs it: missing, the test fails and says so rather than skipping.
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: apt-get install prometheus (scripts/test.sh does)`);
  dir = mkdtempSync(join(tmpdir(), 'ambit-prom-'));
  mesh = await createMesh(['a', 'b']);
  const b = mesh.topo.host('b').address;
  await mesh.startDaemon('a');
  await mesh.startDaemon('b', `waypointMetricsAddress: ${b}\n`);
  const serve = async (host: string, version: string) => {
    const h = mesh.topo.host(host);
    await mesh.serveText(host, 9080, `reviews-${version}`);
    const r = await mesh.ambit(host, ['enroll', 'reviews', '--port', '9080', '-l', `version=${version}`, '--node', host, '--address', h.address]);
    if (r.code !== 0) throw new Error(`enroll reviews ${version}: ${r.stderr}`);
  };
  await serve('b', 'v1');
  await serve('a', 'v2');
  const client = await mesh.ambit('a', [
    'enroll',
    'productpage',
    // Not reviews v2's 9080: the mesh names a caller by its node and identity among the endpoints at their address:port.
    '--port',
    '9081',
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
  const apply = await mesh.ambit('store', ['apply', '-f', '-'], ROUTING);
  if (apply.code !== 0) throw new Error(`apply: ${apply.stderr}`);
  const attach = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'b']);
  if (attach.code !== 0) throw new Error(`waypoint attach: ${attach.stderr}`);
  // Routed by the waypoint: jason reaches v2 only, which direct L4 balancing would not do.
  await eventually(async () => Object.keys((await load(6, 2, ['end-user:jason'])).bodies).join() === 'reviews-v2', 30_000);
});

test.after.always(async () => {
  prometheus?.kill('SIGKILL');
  await mesh?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.serial('Prometheus finds the daemons and the waypoint through `ambit prometheus sd`, and the Istio queries give the traffic sent', async (t) => {
  const sd = join(dir, 'ambit.json');
  // The CLI writes the file_sd document, as its --watch unit would; the test's Prometheus reads nothing else.
  const written = await mesh.ambit('store', ['prometheus', 'sd', '--waypoints', '--file', sd]);
  t.is(written.code, 0, written.stderr);
  const store = mesh.topo.host('store').address;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ambit
    scrape_timeout: 1s
    file_sd_configs: [{files: [${JSON.stringify(sd)}], refresh_interval: 1s}]
`,
  );
  prometheus = mesh.topo.spawn('store', PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=${store}:9090`,
  ]);
  prometheus.stdout?.on('data', (c: Buffer) => (promLog += c.toString()));
  prometheus.stderr?.on('data', (c: Buffer) => (promLog += c.toString()));
  t.teardown(() => {
    if (!t.passed) t.log(promLog.split('\n').slice(-30).join('\n'));
  });
  await waitForOutput(prometheus, /Server is ready to receive web requests/, 30_000);

  // Every target the SD file named is scraped and up: both daemons and the waypoint.
  type Target = { labels: Record<string, string>; health: string; scrapeUrl: string };
  const targets = async () => {
    const r = await mesh.topo.exec('store', 'curl', ['-sS', '--max-time', '5', `http://${store}:9090/api/v1/targets`]);
    return (JSON.parse(r.stdout) as { data: { activeTargets: Target[] } }).data.activeTargets;
  };
  await eventually(async () => {
    const all = await targets();
    return all.length === 3 && all.every((x) => x.health === 'up');
  }, 20_000).catch(async () => t.fail(JSON.stringify(await targets())));
  const up = (await targets()).map((x) => `${x.labels.job} ${x.labels.ambit_node}`).sort();
  t.deepEqual(up, ['ambit-waypoint b', 'ambitd a', 'ambitd b']);

  // The series exist (counters appear with their first request) and Prometheus has sampled them
  // a few times before the counted traffic, so rate() sees all of that traffic as an increase.
  await load(2, 1);
  await load(2, 1, ['end-user:jason']);
  await eventually(async () => (await counts()).size === 2, 15_000);
  await new Promise((r) => setTimeout(r, 5_000));
  const before = await counts();

  const toV1 = 20;
  const toV2 = 30;
  const [others, jason] = await Promise.all([load(toV1, 2), load(toV2, 3, ['end-user:jason'])]);
  t.deepEqual(others.bodies, { 'reviews-v1': toV1 });
  t.deepEqual(jason.bodies, { 'reviews-v2': toV2 });

  const v1 = 'productpage-v1|reviews-v1|v1|200';
  const v2 = 'productpage-v1|reviews-v2|v2|200';
  const want = new Map([
    [v1, (before.get(v1) ?? NaN) + toV1],
    [v2, (before.get(v2) ?? NaN) + toV2],
  ]);
  await eventually(async () => JSON.stringify([...(await counts())].sort()) === JSON.stringify([...want].sort()), 15_000).catch(async () =>
    t.fail(
      `counters ${JSON.stringify([...(await counts())])}, want ${JSON.stringify([...want])}; series ${JSON.stringify(await query('istio_requests_total{reporter="waypoint"}'))}`,
    ),
  );

  const edges = await query(EDGE_QUERY);
  t.log(edges.map((e) => `${edgeKey(e.metric)} ${e.value[1]}/s`).join('\n'));
  t.deepEqual(edges.map((e) => edgeKey(e.metric)).sort(), [v1, v2], 'one series per real edge, named for its workloads');
  // rate() over 1m: the increase inside the window (exactly the requests sent, all of them in it)
  // extrapolated by at most about one scrape interval at each end of the sampled span, per second.
  for (const [edge, sent] of [
    [v1, toV1],
    [v2, toV2],
  ] as const) {
    const perMinute = Number(edges.find((e) => edgeKey(e.metric) === edge)!.value[1]) * 60;
    t.true(perMinute >= sent - 1e-9 && perMinute <= sent * 1.5, `${edge}: rate × 60 = ${perMinute}, sent ${sent}`);
  }

  // TCP: once every connection closed (the client's are, and the waypoint's upstream ones idle out
  // after 1 s), opened - closed is 0 on every series, and no opened series lacks its closed one.
  const open = async () => {
    const diff = await query('istio_tcp_connections_opened_total - istio_tcp_connections_closed_total');
    const opened = await query('istio_tcp_connections_opened_total');
    return { diff, opened };
  };
  await eventually(async () => {
    const { diff, opened } = await open();
    return opened.length > 0 && diff.length === opened.length && diff.every((d) => Number(d.value[1]) === 0);
  }, 30_000).catch(async () => t.fail(JSON.stringify(await open())));
  const { diff, opened } = await open();
  t.true(
    diff.every((d) => Number(d.value[1]) === 0),
    'opened - closed is 0 on every series',
  );
  t.is(diff.length, opened.length, 'every opened series has a closed one');
  const reporters = new Set(opened.map((o) => `${o.metric.reporter}@${o.metric.job}/${o.metric.ambit_node}`));
  t.log([...reporters].join(', '));
  t.true(reporters.has('source@ambitd/a'), "a's daemon reports its outbound connections");
  t.true(reporters.has('destination@ambitd/b'), "b's daemon the waypoint's tunnels to reviews v1");
  t.true(reporters.has('destination@ambitd/a'), "a's daemon the waypoint's tunnels to reviews v2");
});
