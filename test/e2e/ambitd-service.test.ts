/**
 * ambitd the way its systemd unit runs it, on a netns host: held to the
 * unit's CapabilityBoundingSet (read from the unit `ambit install` writes)
 * with no new privileges, as setpriv sets them up; reloaded with SIGHUP; and
 * after a SIGKILL, the unit's ExecStopPost command, which fails closed unless
 * capture.failOpen.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns.js';

const ENROLLED_UID = 1234;
const AMBITD = join(REPO_ROOT, 'bin/ambitd.js');

/** setpriv arguments for the bounding set of the unit install writes, e.g. -all,+net_admin,... */
async function unitConfinement(): Promise<{ caps: string[]; wrapper: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'ambit-unit-'));
  try {
    const r = await ambit(['install', '--root', root], { env: { AMBIT_REDIS_URL: undefined } });
    if (r.code !== 0) throw new Error(`ambit install: ${r.stderr}`);
    const unit = readFileSync(join(root, 'etc/systemd/system/ambitd.service'), 'utf8');
    const caps = /^CapabilityBoundingSet=(.+)$/m.exec(unit)![1]!.split(' ');
    if (!/^NoNewPrivileges=yes$/m.test(unit)) throw new Error('the unit no longer sets NoNewPrivileges=yes');
    const setpriv = caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');
    return { caps, wrapper: ['setpriv', '--bounding-set', `-all,${setpriv}`, '--no-new-privs', '--'] };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

let mesh: Mesh;
let confinement: { caps: string[]; wrapper: string[] };
let settingsFile: string;
let original: string;

const rules = async (): Promise<string> => (await mesh.topo.exec('a', 'iptables-save')).stdout;
const dnsRule = new RegExp(`-A AMBIT_DNS .*--uid-owner ${ENROLLED_UID} `);
const outboundRule = new RegExp(`-A AMBIT_OUTPUT .*--uid-owner ${ENROLLED_UID} `);
const logLines = (): { level: number; msg: string; setting?: string; applied?: string[] }[] =>
  mesh
    .logs('a')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });

test.before(async () => {
  requireNetns();
  confinement = await unitConfinement();
  mesh = await createMesh(['a'], { daemonWrapper: confinement.wrapper });
  await mesh.startDaemon('a');
  settingsFile = join(mesh.dir, 'a.yaml');
  original = readFileSync(settingsFile, 'utf8');
  const r = await mesh.ambit('a', ['enroll', 'web', '--port', '8080', '--user', String(ENROLLED_UID), '--node', 'a', '--address', mesh.topo.host('a').address]);
  if (r.code !== 0) throw new Error(`enroll: ${r.stderr}`);
});

test.after.always(async () => {
  await mesh?.destroy();
});

test.serial("held to the unit's capabilities, ambitd still programs the capture rules", async (t) => {
  const pid = mesh.daemons.get('a')!.pid!;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const bounding = BigInt(`0x${/^CapBnd:\s+(\w+)$/m.exec(status)![1]!}`);
  const CAP_BITS: Record<string, bigint> = { CAP_NET_BIND_SERVICE: 10n, CAP_NET_ADMIN: 12n, CAP_NET_RAW: 13n, CAP_DAC_READ_SEARCH: 2n };
  t.is(
    bounding,
    confinement.caps.reduce((mask, c) => mask | (1n << CAP_BITS[c]!), 0n),
    `CapBnd of ambitd: ${bounding.toString(16)}`,
  );
  t.regex(status, /^NoNewPrivs:\s+1$/m);
  await eventually(async () => dnsRule.test(await rules()) && outboundRule.test(await rules()), 30_000);
  t.pass();
});

test.serial('SIGHUP applies live settings, keeps restart-only ones with a warning, and a broken file changes nothing', async (t) => {
  const child = mesh.daemons.get('a')!;
  writeFileSync(settingsFile, original.replace('logLevel: info', 'logLevel: debug') + 'capture: {dns: false}\nports: {admin: 16000}\n');
  child.kill('SIGHUP');
  await eventually(async () => logLines().some((l) => l.msg.startsWith('settings reloaded')), 10_000);
  const reloaded = logLines().find((l) => l.msg.startsWith('settings reloaded'))!;
  t.deepEqual(reloaded.applied?.sort(), ['capture.dns', 'logLevel']);
  t.true(
    logLines().some((l) => l.level === 40 && l.setting === 'ports.admin'),
    'a warning names ports.admin',
  );
  // capture.dns off: the DNS redirect goes, the TCP capture stays; the admin API stays on 15000.
  await eventually(async () => !dnsRule.test(await rules()), 10_000);
  t.regex(await rules(), outboundRule);
  t.deepEqual(JSON.parse(await mesh.admin('a', '/logging')), { level: 'debug' });

  writeFileSync(settingsFile, original + 'ports:\n  admin: 99999\n');
  child.kill('SIGHUP');
  await eventually(async () => logLines().some((l) => l.msg.startsWith('settings reload failed')), 10_000);
  const failed = logLines().find((l) => l.msg.startsWith('settings reload failed'))!;
  t.true(failed.msg.includes(`${settingsFile}:`), failed.msg);
  t.deepEqual(JSON.parse(await mesh.admin('a', '/logging')), { level: 'debug' }, 'nothing from the broken file applied');
  t.notRegex(await rules(), dnsRule);
  t.is(child.exitCode, null, 'still running');
});

test.serial("after a SIGKILL, the unit's ExecStopPost command leaves the rules (fail closed) unless capture.failOpen", async (t) => {
  await mesh.killDaemon('a');
  t.regex(await rules(), outboundRule, 'a killed daemon leaves its rules behind');

  const afterExit = async (serviceResult: string) => {
    const r = await mesh.topo.exec(
      'a',
      confinement.wrapper[0]!,
      [...confinement.wrapper.slice(1), process.execPath, AMBITD, '--config', settingsFile, '--after-exit'],
      { env: { ...process.env, SERVICE_RESULT: serviceResult, AMBIT_LOG_LEVEL: 'info' } },
    );
    t.is(r.code, 0, r.stderr);
    return r.stdout;
  };

  // The default, and what installs before issue 13 wrote (keepRulesOnExit: false): the rules stay after any end.
  for (const settings of [original, `${original}capture: {keepRulesOnExit: false}\n`]) {
    writeFileSync(settingsFile, settings);
    for (const result of ['signal', 'success']) {
      t.regex(await afterExit(result), /left as they are: fail closed: while ambitd is not running its capture rules stay/);
      t.regex(await rules(), outboundRule, `still in place after ${result}`);
    }
  }

  writeFileSync(settingsFile, `${original}capture: {failOpen: true}\n`);
  t.regex(await afterExit('success'), /left as they are: ambitd stopped cleanly and removed them itself/);
  t.regex(await rules(), outboundRule);
  t.regex(await afterExit('signal'), /capture rules removed: ambitd ended with signal; fail open \(capture\.failOpen: true\)/);
  t.notRegex(await rules(), /AMBIT_/);
});
