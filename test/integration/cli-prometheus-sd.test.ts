/**
 * `ambit prometheus sd` against a real redis-server: the file_sd JSON lists every
 * node whose heartbeat is live, with --node that node's waypoints at loopback;
 * --watch rewrites the file (by rename, leaving no temporary file) as nodes come
 * and go, and stops cleanly on SIGTERM.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../core/store/index.js';
import { waypointEndpoint } from '../../core/store/waypoints.js';
import type { TargetGroup } from '../../cli/prometheus-targets.js';
import { AMBIT, ambit, REPO_ROOT } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { freePortBlock } from '../helpers/port-block.js';

let redis: RedisServer;
let store: Store;
test.before(async () => {
  redis = await startRedis();
  store = await Store.connect({ url: redis.url });
});
test.after.always(async () => {
  await store?.close();
  await redis?.stop();
});

const node = (name: string, address: string, ttl = 60) => store.heartbeatNode({ name, address, hbonePort: 15008 }, ttl);

test.serial('the targets: every live daemon; with --node, its daemon and its waypoints at 127.0.0.1', async (t) => {
  await node('a', '10.0.0.1');
  await node('b', 'fd00::2');
  await store.enroll(
    waypointEndpoint({ namespace: 'default', service: 'reviews', node: 'b', address: 'fd00::2', port: 15009, metricsPort: 15021, state: 'ready' }),
  );
  const all = await ambit(['prometheus', 'sd'], { redis: redis.url });
  t.is(all.code, 0, all.stderr);
  t.deepEqual(JSON.parse(all.stdout) as TargetGroup[], [
    { targets: ['10.0.0.1:15020'], labels: { job: 'ambitd', ambit_node: 'a' } },
    { targets: ['[fd00::2]:15020'], labels: { job: 'ambitd', ambit_node: 'b' } },
  ]);
  const b = await ambit(['prometheus', 'sd', '--node', 'b', '--daemon-port', '9102'], { redis: redis.url });
  t.deepEqual(JSON.parse(b.stdout) as TargetGroup[], [
    { targets: ['127.0.0.1:15021'], labels: { job: 'ambit-waypoint', ambit_node: 'b', ambit_waypoint_for: 'default/reviews' } },
    { targets: ['[fd00::2]:9102'], labels: { job: 'ambitd', ambit_node: 'b' } },
  ]);
  // --waypoints: for a central Prometheus, every node's waypoints at the address their daemon exposes them on.
  const central = await ambit(['prometheus', 'sd', '--waypoints'], { redis: redis.url });
  t.is(central.code, 0, central.stderr);
  t.deepEqual(JSON.parse(central.stdout) as TargetGroup[], [
    { targets: ['[fd00::2]:15021'], labels: { job: 'ambit-waypoint', ambit_node: 'b', ambit_waypoint_for: 'default/reviews' } },
    { targets: ['10.0.0.1:15020'], labels: { job: 'ambitd', ambit_node: 'a' } },
    { targets: ['[fd00::2]:15020'], labels: { job: 'ambitd', ambit_node: 'b' } },
  ]);
  const bad = await ambit(['prometheus', 'sd', '--watch'], { redis: redis.url });
  t.is(bad.code, 2, 'a usage error');
  t.regex(bad.stderr, /--watch needs --file/);
});

test.serial('--watch keeps the file up to date as nodes come and go, always by rename', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-sd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ambit.json');
  await node('c', '10.0.0.3', 2);
  const { child, stderr } = follow(t, ['--file', file, '--watch']);
  const nodes = async () => (JSON.parse(await readFile(file, 'utf8')) as TargetGroup[]).map((g) => g.labels.ambit_node ?? '').sort();
  await eventually(async () => (await nodes()).join() === 'a,b,c', 10_000);
  await node('d', '10.0.0.4');
  await eventually(async () => (await nodes()).includes('d'), 10_000);
  // c stops heartbeating: its record expires, and it leaves the file.
  await eventually(async () => !(await nodes()).includes('c'), 10_000);
  t.deepEqual(await readdir(dir), ['ambit.json'], 'no temporary file left beside it');
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.is(code, 0, stderr());
});

test.serial('--http serves the same targets for http_sd_configs, kept current', async (t) => {
  const port = await freePortBlock(1);
  const { child, stderr } = follow(t, ['--http', `127.0.0.1:${port}`]);
  const nodes = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    t.is(res.headers.get('content-type'), 'application/json');
    return ((await res.json()) as TargetGroup[]).map((g) => g.labels.ambit_node ?? '').sort();
  };
  await eventually(async () => (await nodes()).includes('a'), 10_000);
  await node('e', '10.0.0.5');
  await eventually(async () => (await nodes()).includes('e'), 10_000);
  t.is((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status, 405);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.is(code, 0, stderr());
});

/** `ambit prometheus sd` with `args`, refreshing every second, killed at the test's end if it is still running. */
function follow(t: ExecutionContext, args: string[]) {
  const child = spawn(process.execPath, [AMBIT, 'prometheus', 'sd', ...args, '--interval', '1s'], {
    cwd: REPO_ROOT,
    env: { ...process.env, AMBIT_REDIS_URL: redis.url, AMBIT_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  t.teardown(() => void child.kill('SIGKILL'));
  return { child, stderr: () => stderr };
}
