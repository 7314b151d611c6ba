/**
 * `ambit doctor` on real netns hosts: a healthy daemon host reports all OK; a
 * port taken by a foreign process, capture rules removed behind ambitd's back
 * and a stopped Redis each FAIL with a fix that names what to do, exit 1, and
 * the run stays bounded; with ambitd killed it reports the fail mode and
 * whether the rules left behind hold. Host a runs ambitd (with the signer) and an enrolled
 * service; host b has no daemon.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { REPO_ROOT } from '../helpers/cli.js';
import type { CheckReport } from '../../cli/doctor/check.js';

const SERVICE_UID = 2001;

let mesh: Mesh;

interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  checks: Map<string, CheckReport>;
}

async function doctor(host: string, extra: string[] = []): Promise<DoctorRun> {
  const started = Date.now();
  const r = await mesh.ambit(host, ['doctor', '--config', join(mesh.dir, `${host}.yaml`), '-o', 'json', ...extra]);
  const ms = Date.now() - started;
  let checks = new Map<string, CheckReport>();
  try {
    checks = new Map((JSON.parse(r.stdout) as { checks: CheckReport[] }).checks.map((c) => [c.name, c]));
  } catch {
    // Left empty: the assertions on it then show stdout and stderr.
  }
  return { ...r, ms, checks };
}

/** The text report, for the test log and for what an operator would read. */
async function doctorText(host: string): Promise<string> {
  return (await mesh.ambit(host, ['doctor', '--config', join(mesh.dir, `${host}.yaml`)])).stdout;
}

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  await mesh.startDaemon('a');
  const enroll = await mesh.ambit('a', [
    'enroll',
    'productpage',
    '--port',
    '9080',
    '--user',
    String(SERVICE_UID),
    '--node',
    'a',
    '--address',
    mesh.topo.host('a').address,
  ]);
  if (enroll.code !== 0) throw new Error(`enroll: ${enroll.stderr}`);
  // b has no daemon; it gets the settings file an operator would have written for it.
  const b = mesh.topo.host('b');
  writeFileSync(join(mesh.dir, 'b.yaml'), `node: {name: b, address: ${b.address}}\nidentity: {dir: ${join(mesh.dir, 'b')}}\n`);
  // Healthy means: the workload certificate issued and the rules for the enrolled uid applied.
  await eventually(async () => {
    const certs = JSON.parse(await mesh.admin('a', '/certs')) as { kind: string; state: string }[];
    const dump = JSON.parse(await mesh.admin('a', '/config_dump')) as { capture?: { appliedArgs?: string[] } };
    return certs.some((c) => c.kind === 'workload' && c.state === 'valid') && (dump.capture?.appliedArgs ?? []).includes(String(SERVICE_UID));
  }, 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

/** Names of the clients connected to the mesh's Redis (ambitd's store, watcher, signer, … connections), sorted. */
async function redisClients(): Promise<string[]> {
  const store = mesh.topo.host('store');
  const r = await mesh.topo.exec('store', 'redis-cli', ['-h', store.address, '-p', '6379', ...mesh.redisAdmin, 'client', 'list']);
  return [...r.stdout.matchAll(/ name=(\S+)/g)].map((m) => m[1]!).sort();
}

test.serial('a healthy daemon host: every check OK, exit 0', async (t) => {
  const run = await doctor('a');
  t.is(run.code, 0, run.stdout + run.stderr);
  const notOk = [...run.checks.values()].filter((c) => c.status !== 'OK');
  t.deepEqual(notOk, [], 'every check is OK');
  t.is(run.checks.size, 17);
  t.regex(run.checks.get('fail-mode')!.detail, /^fail closed: while ambitd is not running its capture rules stay/);
  t.regex(run.checks.get('capture-rules')!.detail, new RegExp(`in place and in step with ambitd: uids ${SERVICE_UID}; mesh 240\\.240\\.0\\.0/16`));
  t.regex(run.checks.get('listeners')!.detail, /^ambitd \(pid \d+\) holds 15001\/tcp, 15008\/tcp, 15006\/tcp, 15053\/udp, 15053\/tcp, 15000\/tcp, 15020\/tcp$/);
  t.regex(run.checks.get('workload-certs')!.detail, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage: expires in .*chains to the trust bundle/);
  t.regex(run.checks.get('mesh-dns')!.detail, /^productpage\.default\.svc\.cluster\.local -> 240\.240\.\d+\.\d+ in /);
  t.regex(run.checks.get('conntrack')!.detail, /^conntrack answers over netlink/);
  t.regex(run.checks.get('node-registration')!.detail, new RegExp(`^a at ${mesh.topo.host('a').address.replace(/\./g, '\\.')}:15008, last heartbeat`));
  const text = await doctorText('a');
  t.regex(text, /^OK {4}root {2,}running as root$/m);
  t.regex(text, /^17 checks: 17 OK, 0 WARN, 0 FAIL, 0 SKIP$/m);
  t.log(text);
});

test.serial('a foreign process on the DNS port of a host without a daemon FAILs, named by pid and command', async (t) => {
  const intruder = mesh.topo.spawn('b', process.execPath, ['-e', "require('dgram').createSocket('udp4').bind(15053, '127.0.0.1', () => console.log('bound'))"]);
  await waitForOutput(intruder, /bound/);
  t.teardown(() => void intruder.kill());
  const run = await doctor('b');
  t.is(run.code, 1);
  const listeners = run.checks.get('listeners')!;
  t.is(listeners.status, 'FAIL');
  t.regex(listeners.detail, new RegExp(`^15053/udp is held by node \\(pid ${intruder.pid}: .*node -e require\\('dgram'\\)`));
  t.regex(listeners.fix!, new RegExp(`kill ${intruder.pid}\\).*ports\\.dns in ${join(mesh.dir, 'b.yaml').replace(/[./]/g, '\\$&')}`));
  // No daemon here: what needs it is skipped, not failed a second time.
  t.is(run.checks.get('ambitd')!.status, 'FAIL');
  for (const name of ['workload-certs', 'mesh-dns', 'node-registration', 'capture-rules']) t.is(run.checks.get(name)!.status, 'SKIP', name);
  t.is(run.checks.get('redis')!.status, 'OK');
  t.log(await doctorText('b'));
});

test.serial('capture rules removed behind ambitd: the rules check FAILs, and its fix puts them back', async (t) => {
  const removed = await mesh.topo.exec('a', 'bash', [join(REPO_ROOT, 'scripts/iptables/remove.sh')]);
  t.is(removed.code, 0, removed.stderr);
  const run = await doctor('a');
  t.is(run.code, 1);
  const rules = run.checks.get('capture-rules')!;
  t.is(rules.status, 'FAIL');
  t.regex(rules.detail, /not as ambitd applied them .*chain nat\/AMBIT_OUTPUT is missing/);
  const fix = /^put them back: (bash \S+apply\.sh .*) \(or restart ambitd\)$/.exec(rules.fix ?? '');
  t.truthy(fix, rules.fix);
  t.log(await doctorText('a'));
  const applied = await mesh.topo.exec('a', 'bash', ['-c', fix![1]!]);
  t.is(applied.code, 0, applied.stderr);
  const again = await doctor('a');
  t.is(again.checks.get('capture-rules')!.status, 'OK', again.checks.get('capture-rules')!.detail);
  t.is(again.code, 0);
});

test.serial('Redis stopped: the redis check FAILs with its fix, what needs it SKIPs, exit 1, within bounded time', async (t) => {
  const clients = await redisClients();
  await mesh.stopRedis();
  let restarted = false;
  t.teardown(async () => {
    if (!restarted) await mesh.startRedis();
  });
  const run = await doctor('a');
  t.is(run.code, 1);
  const redis = run.checks.get('redis')!;
  t.is(redis.status, 'FAIL');
  t.regex(redis.detail, new RegExp(`^cannot reach Redis at ${mesh.redisUrl.replace(/[./]/g, '\\$&')} \\(`));
  t.regex(redis.fix!, /start Redis there .*store\.url in .*--redis URL/);
  for (const name of ['mesh-settings', 'node-registration', 'clock-skew']) {
    t.is(run.checks.get(name)!.status, 'SKIP', name);
    t.regex(run.checks.get(name)!.detail, /needs redis failed/);
  }
  // The daemon keeps serving its last state; certificates are checked against the bundle on disk.
  t.is(run.checks.get('ambitd')!.status, 'OK');
  t.regex(run.checks.get('node-cert')!.detail, /bundle\.json \(store not reachable\)/);
  t.true(run.ms < 15_000, `doctor took ${run.ms} ms`);
  t.log(`doctor with Redis down: ${run.ms} ms`);
  t.log(await doctorText('a'));

  // Redis back: once every ambitd connection has reconnected, doctor is all OK again.
  await mesh.startRedis();
  restarted = true;
  await eventually(async () => (await redisClients()).join() === clients.join(), 30_000);
  const after = await doctor('a');
  t.is(after.code, 0, after.stdout);
  t.is(after.checks.get('redis')!.status, 'OK');
});

test.serial(
  'ambitd killed: doctor says the host fails closed with its rules whole; set to fail open, the same rules FAIL and the fix removes them',
  async (t) => {
    await mesh.killDaemon('a');
    const run = await doctor('a');
    t.is(run.code, 1);
    t.is(run.checks.get('ambitd')!.status, 'FAIL');
    t.regex(run.checks.get('listeners')!.detail, /^ambitd is not running and its ports are free/);
    const mode = run.checks.get('fail-mode')!;
    t.is(mode.status, 'OK');
    t.regex(mode.detail, /^fail closed: /);
    const rules = run.checks.get('capture-rules')!;
    t.is(rules.status, 'OK', rules.detail);
    t.regex(
      rules.detail,
      /^ambitd is not running \(.*\); failing closed, ambit's rules \(AMBIT_DNS, AMBIT_INBOUND, AMBIT_OUTPUT, AMBIT_PREROUTING\) are in place: [1-9]\d* capture redirects to its ports \(refused while closed, queued while systemd holds them\)/,
    );
    t.log(await doctorText('a'));

    const settings = join(mesh.dir, 'a.yaml');
    const original = readFileSync(settings, 'utf8');
    t.teardown(() => writeFileSync(settings, original));
    writeFileSync(settings, `${original}capture: {failOpen: true}\n`);
    const open = await doctor('a');
    const openMode = open.checks.get('fail-mode')!;
    t.is(openMode.status, 'WARN');
    t.regex(openMode.detail, /^fail open \(capture\.failOpen: true\): .*in plaintext/);
    t.regex(openMode.fix!, /^delete capture\.failOpen from /);
    const left = open.checks.get('capture-rules')!;
    t.is(left.status, 'FAIL');
    t.regex(
      left.detail,
      /^ambit's rules \(AMBIT_DNS, AMBIT_INBOUND, AMBIT_OUTPUT, AMBIT_PREROUTING\) are installed but ambitd is not running, and capture\.failOpen is true/,
    );
    const fix = /remove the rules: (bash \S+remove\.sh)$/.exec(left.fix ?? '');
    t.truthy(fix, left.fix);
    t.log(await doctorText('a'));
    const removed = await mesh.topo.exec('a', 'bash', ['-c', fix![1]!]);
    t.is(removed.code, 0, removed.stderr);
    const after = await doctor('a');
    t.is(after.checks.get('capture-rules')!.status, 'SKIP');
    t.regex(after.checks.get('capture-rules')!.detail, /no ambit rules are installed: fail open/);
  },
);
