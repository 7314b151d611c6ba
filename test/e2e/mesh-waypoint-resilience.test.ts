/**
 * The waypoint's resilience features end to end on netns hosts with real
 * daemons: retries, per-try and route timeouts, circuit-breaker overflow and
 * outlier ejection, each configured with the project's own Istio YAML and
 * exercised by an enrolled client on a whose connections iptables captures.
 * Services run on b (and c); their waypoints run on c.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { httpLoad, type LoadResult } from '../helpers/http-load.js';

const SERVER = fileURLToPath(new URL('./fixtures/behaviour-server.js', import.meta.url));
const CLIENT_UID = 2201;
const url = (service: string, port: number, path = '/') => `http://${service}.default.svc.cluster.local:${port}${path}`;
const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';

let mesh: Mesh;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
  const serve = async (host: string, service: string, port: number, mode: string) => {
    const h = mesh.topo.host(host);
    await waitForOutput(mesh.topo.spawn(host, process.execPath, [SERVER, h.address, String(port), mode, `${service}-${host}`]), /listening/);
    const r = await mesh.ambit(host, ['enroll', service, '--port', String(port), '-l', 'version=v1', '--node', host, '--address', h.address]);
    if (r.code !== 0) throw new Error(`enroll ${service}: ${r.stderr}`);
  };
  await serve('b', 'flaky', 9081, 'flaky');
  await serve('b', 'slow', 9082, 'slow');
  await serve('b', 'pool', 9083, 'fail');
  await serve('c', 'pool', 9083, 'ok');
  const client = await mesh.ambit('a', [
    'enroll',
    'client',
    '--port',
    '9080',
    '--user',
    String(CLIENT_UID),
    '--node',
    'a',
    '--address',
    mesh.topo.host('a').address,
  ]);
  if (client.code !== 0) throw new Error(`enroll client: ${client.stderr}`);
  for (const service of ['flaky', 'slow', 'pool']) {
    const r = await mesh.ambit('store', ['waypoint', 'attach', service, '--node', 'c']);
    if (r.code !== 0) throw new Error(`attach ${service}: ${r.stderr}`);
  }
});

test.after.always(async () => {
  await mesh?.destroy();
});

function load(target: string, count: number, concurrency: number): Promise<LoadResult> {
  return httpLoad(mesh, 'a', CLIENT_UID, target, count, concurrency);
}

/** The waypoints' access-log entries (they log through their node's daemon). */
function accessLog(host: string): { path: string; response_code: number; duration_ms: number }[] {
  return mesh
    .logs(host)
    .split('\n')
    .filter((l) => l.includes('"msg":"access"'))
    .map((l) => JSON.parse(l) as { path: string; response_code: number; duration_ms: number });
}

async function apply(yaml: string): Promise<void> {
  const r = await mesh.ambit('store', ['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
}

const virtualService = (host: string, http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${host}, namespace: default}
spec:
  hosts: [${host}]
  http:
${http}`;

const destinationRule = (host: string, trafficPolicy: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host}, namespace: default}
spec:
  host: ${host}
  trafficPolicy:
${trafficPolicy.join('\n')}
`;

test.serial('retries: attempts 3 turns two 503s into a 200; attempts 1 returns the 503', async (t) => {
  await apply(virtualService('flaky', '  - retries: {attempts: 3, retryOn: 5xx}\n    route: [{destination: {host: flaky}}]'));
  await eventually(async () => (await load(url('flaky', 9081), 1, 1)).statuses['200'] === 1, 15_000);
  const r = await load(url('flaky', 9081), 20, 4);
  t.deepEqual(r.statuses, { 200: 20 });
  t.deepEqual(r.bodies, { 'ok after 3': 20 }, 'every request took exactly three tries');
  await apply(virtualService('flaky', '  - retries: {attempts: 1, retryOn: 5xx}\n    route: [{destination: {host: flaky}}]'));
  await eventually(async () => (await load(url('flaky', 9081), 1, 1)).statuses['503'] === 1, 15_000);
  t.deepEqual((await load(url('flaky', 9081), 10, 2)).bodies, { 'try 2 failed': 10 }, "the endpoint's own 503 after one retry");
});

test.serial('timeouts: a 1 s route timeout and a 0.5 s perTryTimeout (two tries) answer 504 at 1 s ±10 %', async (t) => {
  await apply(
    virtualService(
      'slow',
      [
        '  - match: [{uri: {prefix: /route}}]',
        '    timeout: 1s',
        '    retries: {attempts: 0}',
        '    route: [{destination: {host: slow}}]',
        '  - retries: {attempts: 1, perTryTimeout: 0.5s, retryOn: 5xx}',
        '    route: [{destination: {host: slow}}]',
      ].join('\n'),
    ),
  );
  await eventually(async () => (await load(url('slow', 9082, '/route'), 1, 1)).statuses['504'] === 1, 20_000);
  for (const path of ['/route', '/per-try']) {
    const r = await load(url('slow', 9082, path), 4, 1);
    t.deepEqual(r.statuses, { 504: 4 }, path);
    t.deepEqual(r.bodies, { 'upstream request timeout': 4 });
    // The waypoint's own clock, as Envoy's timeouts run on it; the client's adds the tunnels (and a busy host's scheduling).
    const answered = accessLog('c')
      .filter((e) => e.path === path && e.response_code === 504)
      .slice(-4);
    t.is(answered.length, 4);
    for (const e of answered) t.true(e.duration_ms >= 900 && e.duration_ms <= 1100, `${path}: 504 after ${e.duration_ms} ms in the waypoint`);
    for (const ms of r.durationsMs) t.true(ms >= 900 && ms < 2000, `${path}: the client saw it after ${ms} ms`);
  }
  t.deepEqual((await load(url('slow', 9082, '/route?ms=100'), 3, 1)).statuses, { 200: 3 }, 'a fast answer is not cut');
});

test.serial('circuit breaker: maxConnections 1 + http1MaxPendingRequests 1 overflow fast with 503, nothing hangs', async (t) => {
  await apply(destinationRule('slow', ['    connectionPool:', '      tcp: {maxConnections: 1}', '      http: {http1MaxPendingRequests: 1, maxRetries: 0}']));
  await apply(virtualService('slow', '  - retries: {attempts: 0}\n    route: [{destination: {host: slow}}]'));
  await eventually(async () => ((await load(url('slow', 9082, '/?ms=400'), 12, 12)).bodies[OVERFLOW] ?? 0) > 0, 20_000);
  const started = Date.now();
  const r = await load(url('slow', 9082, '/?ms=400'), 12, 12);
  const overflowed = r.bodies[OVERFLOW] ?? 0;
  t.deepEqual(r.errors, {}, 'no request failed without an answer');
  t.is((r.statuses['200'] ?? 0) + (r.statuses['503'] ?? 0), 12);
  t.true(overflowed >= 8, `${overflowed} of 12 overflowed (one in flight, one pending, the rest rejected)`);
  t.true((r.statuses['200'] ?? 0) >= 1, 'the admitted requests succeed');
  const fast = r.durationsMs.filter((ms) => ms < 300).length;
  t.true(fast >= overflowed - 1, `overflows answer at once (${fast} under 300 ms)`);
  t.true(Date.now() - started < 10_000, 'the burst finished');
});

test.serial('outlier detection: the endpoint returning 500 is ejected, and back after baseEjectionTime', async (t) => {
  await apply(
    destinationRule('pool', [
      '    loadBalancer: {simple: ROUND_ROBIN}',
      '    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 4s, maxEjectionPercent: 100}',
    ]),
  );
  await eventually(async () => (await load(url('pool', 9083), 10, 1)).statuses['500'] === undefined, 20_000);
  const healthy = await load(url('pool', 9083), 40, 4);
  t.deepEqual(healthy.bodies, { 'pool-c': 40 }, 'only the healthy endpoint answers while b is ejected');
  await new Promise((r) => setTimeout(r, 5000));
  const after = await load(url('pool', 9083), 4, 1);
  t.true((after.bodies['pool-b'] ?? 0) >= 1, `after baseEjectionTime b gets traffic again: ${JSON.stringify(after.bodies)}`);
  const metrics = await mesh.admin('c', '/metrics', 15023);
  t.regex(metrics, /ejections/, 'the ejection is counted');
});
