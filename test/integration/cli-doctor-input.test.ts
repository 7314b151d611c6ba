/**
 * `ambit doctor` input handling and its store checks, run as the real CLI on
 * this host against a private Redis on loopback: bad flags are usage errors
 * (exit 2, nothing checked), a broken settings file FAILs the config check and
 * SKIPs what depends on it, and --redis replaces the settings file's store.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import type { CheckReport } from '../../cli/doctor/check.js';

let redis: RedisServer;
let locked: RedisServer;
let dir: string;

test.before(async () => {
  [redis, locked] = await Promise.all([startRedis(), startRedis({ password: 'sesame' })]);
  dir = mkdtempSync(join(tmpdir(), 'ambit-doctor-'));
});

test.after.always(async () => {
  await Promise.all([redis?.stop(), locked?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function settings(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function doctorJson(args: string[]): Promise<{ code: number; checks: Map<string, CheckReport>; stderr: string }> {
  const r = await ambit(['doctor', '-o', 'json', ...args]);
  const parsed = JSON.parse(r.stdout) as { checks: CheckReport[] };
  return { code: r.code, stderr: r.stderr, checks: new Map(parsed.checks.map((c) => [c.name, c])) };
}

test('bad flags are usage errors: exit 2, one line, no report', async (t) => {
  for (const [args, message] of [
    [['--config', join(dir, 'missing.yaml')], /^error: --config .*missing\.yaml: no such file; give the settings file ambitd runs with\n$/],
    [['--cert-warn', 'soon'], /^error: --cert-warn "soon" is not a positive duration/],
    [['-o', 'xml'], /^error: option '-o, --output <format>' argument 'xml' is invalid\. unknown output format "xml": use table, json or yaml\n/],
  ] as const) {
    const r = await ambit(['doctor', ...args]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message);
    t.is(r.stdout, '');
  }
});

test('a broken settings file FAILs the config check with file:line, and what needs it is skipped', async (t) => {
  const file = settings('broken.yaml', 'node:\n  name: a\nports:\n  dns: 99999\n');
  const r = await doctorJson(['--config', file]);
  t.is(r.code, 1);
  const config = r.checks.get('config')!;
  t.is(config.status, 'FAIL');
  t.regex(config.detail, new RegExp(`${file.replace(/[./]/g, '\\$&')}:4: ports\\.dns: .*99999`));
  t.regex(config.fix!, /configs\/ambitd\.yaml documents every field/);
  for (const name of ['ambitd', 'listeners', 'redis', 'node-cert', 'capture-rules']) {
    t.is(r.checks.get(name)!.status, 'SKIP', name);
  }
  t.regex(r.checks.get('redis')!.detail, /^needs config failed$/);
  t.regex(r.checks.get('mesh-settings')!.detail, /^needs redis was skipped$/);
});

test('without --config, doctor judges the settings file AMBIT_CONFIG names, as enroll reads its node name from it', async (t) => {
  const file = settings('by-env.yaml', 'node:\n  name: a\nports:\n  dns: 99999\n');
  const r = await ambit(['doctor', '-o', 'json'], { env: { AMBIT_CONFIG: file } });
  t.is(r.code, 1);
  const config = (JSON.parse(r.stdout) as { checks: CheckReport[] }).checks.find((c) => c.name === 'config')!;
  t.is(config.status, 'FAIL');
  t.true(config.detail.startsWith(`${file}:4: ports.dns`), config.detail);
});

test('--redis replaces the settings file store: latency and clock are measured there; an empty store has no trust bundle', async (t) => {
  const file = settings('good.yaml', `node: {name: lonely, address: 127.0.0.1}\nstore: {url: "redis://127.0.0.1:1"}\nidentity: {dir: ${join(dir, 'id')}}\n`);
  const r = await doctorJson(['--config', file, '--redis', redis.url]);
  const check = r.checks.get('redis')!;
  t.is(check.status, 'OK', check.detail);
  t.regex(check.detail, new RegExp(`^redis://127\\.0\\.0\\.1:${redis.port} answers PING in [\\d.]+ ms \\(median of 3\\); ambitd not asked`));
  t.is(r.checks.get('clock-skew')!.status, 'OK');
  const mesh = r.checks.get('mesh-settings')!;
  t.is(mesh.status, 'FAIL');
  t.regex(mesh.detail, /^VIP range 240\.240\.0\.0\/16, but the store has no trust bundle$/);
  t.is(mesh.fix, 'create the mesh CA: ambit ca init (once per mesh)');
  t.regex(r.checks.get('node-cert')!.detail, /has not joined the mesh/);
  t.is(r.code, 1);

  // Without --redis the settings file's store is the one checked (nothing listens on port 1).
  const own = await doctorJson(['--config', file]);
  t.regex(own.checks.get('redis')!.detail, /^cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(/);
});

test('a store that wants a password: the redis check FAILs naming the credentials and the setting', async (t) => {
  const file = settings(
    'nopass.yaml',
    `node: {name: lonely, address: 127.0.0.1}\nstore: {url: "redis://127.0.0.1:${locked.port}"}\nidentity: {dir: ${join(dir, 'id')}}\n`,
  );
  const r = await doctorJson(['--config', file]);
  const check = r.checks.get('redis')!;
  t.is(check.status, 'FAIL');
  t.regex(check.detail, /rejected the credentials .*NOAUTH/);
  t.regex(check.fix!, new RegExp(`store\\.passwordFile in ${file.replace(/[./]/g, '\\$&')}`));
});

test('root without CAP_NET_ADMIN: the conntrack check WARNs that netlink refused, with the fix and what breaks without it', (t) => {
  // The same uid 0, minus the one capability ctnetlink demands: what a hand-written unit that forgot it would give ambitd.
  const r = spawnSync(
    'setpriv',
    ['--inh-caps=-net_admin', '--bounding-set=-net_admin', process.execPath, join(REPO_ROOT, 'bin/ambit.js'), 'doctor', '-o', 'json', '--redis', redis.url],
    {
      encoding: 'utf8',
      env: { ...process.env, AMBIT_LOG_LEVEL: 'silent' },
      timeout: 60_000,
    },
  );
  const checks = new Map((JSON.parse(r.stdout) as { checks: CheckReport[] }).checks.map((c) => [c.name, c]));
  t.is(checks.get('root')!.status, 'OK');
  const conntrack = checks.get('conntrack')!;
  t.is(conntrack.status, 'WARN');
  t.regex(
    conntrack.detail,
    /^conntrack does not answer over netlink \(conntrack lookup: Operation not permitted\); without it, a client that reuses one source port/,
  );
  t.regex(conntrack.fix ?? '', /modprobe nf_conntrack_netlink, and run ambitd with CAP_NET_ADMIN/);
});
