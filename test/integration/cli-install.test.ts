/**
 * `ambit install` / `ambit uninstall` against a scratch root (--root), run as
 * the real CLI; systemd-analyze checks the unit the way systemd would load it;
 * one test runs uninstall against the real root inside a network and mount
 * namespace of its own, to prove it removes capture rules.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { netnsTest } from '../helpers/netns-test.js';
import { withTopology } from '../helpers/netns.js';

const CONFIG = 'etc/ambit/ambitd.yaml';
const UNIT = 'etc/systemd/system/ambitd.service';
const SOCKETS = ['outbound', 'inbound', 'inbound-plaintext', 'dns'].map((name) => `etc/systemd/system/ambitd-${name}.socket`);
/** Never the developer's store: install would write it into the file. */
const ENV = { AMBIT_REDIS_URL: undefined };

function scratchRoot(t: ExecutionContext): string {
  const root = mkdtempSync(join(tmpdir(), 'ambit-install-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** Every entry under `root`: path, type, mode, and a content hash for files. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const s = lstatSync(path);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isDirectory()) {
        out.push(`${path.slice(root.length)}/ ${mode}`);
        walk(path);
      } else out.push(`${path.slice(root.length)} ${mode} ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`);
    }
  };
  walk(root);
  return out;
}

async function cli(t: ExecutionContext, args: string[], expectCode = 0): Promise<string> {
  const r = await ambit(args, { env: ENV });
  t.is(r.code, expectCode, `ambit ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.code === 0 ? r.stdout : r.stderr;
}

/** A root that already looks like a host: install must add to it and uninstall leave it exactly so. */
function livedInRoot(t: ExecutionContext): string {
  const root = scratchRoot(t);
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(root, 'var/lib/other'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'vm-1\n');
  writeFileSync(join(root, 'etc/systemd/system/other.service'), '[Service]\nExecStart=/bin/true\n');
  return root;
}

for (const [title, makeRoot] of [
  ['an empty root', scratchRoot],
  ['a root with a host in it', livedInRoot],
] as const) {
  test(`install then uninstall --purge leaves ${title} exactly as before`, async (t) => {
    const root = makeRoot(t);
    const before = listing(root);
    await cli(t, ['install', '--root', root, '--node-name', 'vm-7', '--address', '10.0.0.7', '--ca']);
    t.true(existsSync(join(root, CONFIG)) && existsSync(join(root, UNIT)));
    t.notDeepEqual(listing(root), before);
    // ambitd's state (StateDirectory=, not install) appears where the host has /var/lib; purge removes it.
    const hasVarLib = existsSync(join(root, 'var/lib'));
    if (hasVarLib) {
      mkdirSync(join(root, 'var/lib/ambit'));
      writeFileSync(join(root, 'var/lib/ambit/node-key.pem'), 'key');
    }
    const out = await cli(t, ['uninstall', '--root', root, '--purge']);
    t.regex(out, /removed .*ambitd\.service/);
    t.regex(out, /capture rules not touched \(--root/);
    if (hasVarLib) t.regex(out, /removed .*\/var\/lib\/ambit\n/);
    t.deepEqual(listing(root), before);
  });
}

test('files: config 0640 from configs/ambitd.yaml with every comment and the given values; unit 0644 running this node and this ambitd', async (t) => {
  const root = scratchRoot(t);
  await cli(t, ['--redis', 'redis://10.0.0.1:6380', 'install', '--root', root, '--node-name', 'vm-7', '--address', '10.0.0.7']);
  const config = readFileSync(join(root, CONFIG), 'utf8');
  const template = readFileSync(join(REPO_ROOT, 'configs/ambitd.yaml'), 'utf8');
  for (const line of template.split('\n').filter((l) => l.includes('#'))) t.true(config.includes(line.trim()), `comment lost: ${line}`);
  const parsed = parseDaemonConfig(config, CONFIG);
  t.deepEqual(parsed.node, { name: 'vm-7', address: '10.0.0.7' });
  t.is(parsed.store.url, 'redis://10.0.0.1:6380');
  t.is(lstatSync(join(root, CONFIG)).mode & 0o777, 0o640);
  t.is(lstatSync(join(root, UNIT)).mode & 0o777, 0o644);

  const unit = readFileSync(join(root, UNIT), 'utf8');
  const ambitd = join(REPO_ROOT, 'bin/ambitd.js');
  t.true(unit.includes(`\nExecStart=${process.execPath} ${ambitd} --config /etc/ambit/ambitd.yaml\n`), unit);
  t.true(unit.includes(`\nExecStopPost=${process.execPath} ${ambitd} --config /etc/ambit/ambitd.yaml --after-exit\n`));
  for (const line of [
    'Wants=network-online.target',
    'Restart=on-failure',
    'LimitNOFILE=1048576',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=45s',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'StateDirectory=ambit',
    'RuntimeDirectory=ambit',
    'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE',
  ]) {
    t.true(unit.includes(`\n${line}\n`), `unit lacks ${line}`);
  }
  const settings = unit.split('\n').filter((l) => !l.startsWith('#'));
  t.false(
    settings.some((l) => l.includes(root)),
    'the unit runs with target paths, not the staging root',
  );
  t.false(/^User=/m.test(unit), 'root with a bounding set, as the unit explains');

  // systemd holds the traffic ports: the service takes them from its socket units, which install writes beside it.
  const names = 'ambitd-outbound.socket ambitd-inbound.socket ambitd-inbound-plaintext.socket ambitd-dns.socket';
  for (const line of [`Sockets=${names}`, `Requires=${names}`, `After=network-online.target ${names}`, 'StartLimitIntervalSec=0'])
    t.true(unit.includes(`\n${line}\n`), `unit lacks ${line}`);
  const socket = (i: number) => readFileSync(join(root, SOCKETS[i]!), 'utf8');
  for (const file of SOCKETS) t.is(lstatSync(join(root, file)).mode & 0o777, 0o644);
  const v6 = existsSync('/proc/net/if_inet6');
  t.regex(socket(0), new RegExp(`\\[Socket\\]\\nListenStream=0\\.0\\.0\\.0:15001\\n${v6 ? 'ListenStream=\\[::\\]:15001\\nBindIPv6Only=ipv6-only\\n' : ''}`));
  t.regex(socket(1), /\[Socket\]\nListenStream=0\.0\.0\.0:15008\n#/);
  t.regex(socket(2), new RegExp(`\\[Socket\\]\\nListenStream=0\\.0\\.0\\.0:15006\\n${v6 ? 'ListenStream=\\[::\\]:15006\\nBindIPv6Only=ipv6-only\\n' : ''}`));
  t.regex(socket(3), /\[Socket\]\nListenStream=127\.0\.0\.1:15053\nListenDatagram=127\.0\.0\.1:15053\n#/);
  for (const [i, name] of ['outbound', 'inbound', 'inbound-plaintext', 'dns'].entries()) {
    t.true(socket(i).includes(`\nFileDescriptorName=${name}\nService=ambitd.service\n`), socket(i));
    t.true(socket(i).includes('\nTriggerLimitIntervalSec=0\n'));
    t.true(socket(i).includes('\n[Install]\nWantedBy=sockets.target\n'));
  }
});

test('the socket units follow the ports in ambitd.yaml, and uninstall removes them but not a socket unit it did not write', async (t) => {
  const root = scratchRoot(t);
  // A joined node: install starts ambitd, and restarts it (with the sockets) when a socket unit changes.
  mkdirSync(join(root, 'var/lib/ambit'), { recursive: true });
  writeFileSync(join(root, 'var/lib/ambit/node-cert.pem'), 'cert');
  const units = 'ambitd-outbound.socket ambitd-inbound.socket ambitd-inbound-plaintext.socket ambitd-dns.socket ambitd';
  t.regex(await cli(t, ['install', '--root', root]), new RegExp(`\n  systemctl enable ${units}\n  systemctl restart ${units}\n`));
  t.regex(await cli(t, ['install', '--root', root]), new RegExp(`\n  systemctl enable --now ${units}\n`), 'nothing changed: nothing restarted');
  const file = join(root, CONFIG);
  writeFileSync(file, readFileSync(file, 'utf8').replace('  outbound: 15001', '  outbound: 16001').replace('  dns: 15053', '  dns: 16053'));
  const out = await cli(t, ['install', '--root', root]);
  t.regex(out, /updated .*ambitd-outbound\.socket/);
  t.regex(out, /unchanged .*ambitd-inbound\.socket/);
  t.regex(out, new RegExp(`\n  systemctl restart ${units}\n`));
  t.regex(readFileSync(join(root, SOCKETS[0]!), 'utf8'), /^ListenStream=0\.0\.0\.0:16001$/m);
  t.regex(readFileSync(join(root, SOCKETS[3]!), 'utf8'), /^ListenDatagram=127\.0\.0\.1:16053$/m);

  const foreign = join(root, 'etc/systemd/system/ambitd-mine.socket');
  writeFileSync(foreign, '[Socket]\nListenStream=9999\n');
  const removal = await cli(t, ['uninstall', '--root', root]);
  for (const f of SOCKETS) {
    t.regex(removal, new RegExp(`removed ${root}/${f}`));
    t.false(existsSync(join(root, f)));
  }
  t.true(existsSync(foreign), "a unit without install's marker is not ours");
});

test('--dry-run prints every file with its content and every step, and writes nothing', async (t) => {
  const root = livedInRoot(t);
  const before = listing(root);
  const out = await cli(t, ['install', '--root', root, '--dry-run', '--node-name', 'vm-7']);
  t.deepEqual(listing(root), before);
  t.regex(out, new RegExp(`would create directory ${root}/etc/ambit \\(0755\\)`));
  t.regex(out, new RegExp(`would write ${root}/${CONFIG} \\(0640, new\\):\\n--- begin`));
  t.regex(out, new RegExp(`would write ${root}/${UNIT} \\(0644, new\\):`));
  for (const f of SOCKETS) t.regex(out, new RegExp(`would write ${root}/${f} \\(0644, new\\):`));
  t.true(out.includes('  name: vm-7\n'), 'the config content is printed');
  t.true(out.includes(`ExecStart=${process.execPath}`), 'the unit content is printed');
  t.regex(out, /systemctl daemon-reload/);

  await cli(t, ['install', '--root', root]);
  const installed = listing(root);
  const removal = await cli(t, ['uninstall', '--root', root, '--purge', '--dry-run']);
  t.deepEqual(listing(root), installed);
  t.regex(removal, new RegExp(`would remove ${root}/${UNIT}`));
  for (const f of SOCKETS) t.regex(removal, new RegExp(`would remove ${root}/${f}`));
  t.regex(removal, new RegExp(`would remove ${root}/etc/ambit\\n`));
});

test('twice gives the same files and says unchanged for each; uninstall twice is quiet the second time', async (t) => {
  const root = scratchRoot(t);
  await cli(t, ['install', '--root', root, '--node-name', 'vm-7']);
  const first = listing(root);
  const out = await cli(t, ['install', '--root', root, '--node-name', 'vm-7']);
  t.deepEqual(listing(root), first);
  t.true(out.includes(`unchanged ${root}/${CONFIG}\n`), out);
  t.true(out.includes(`unchanged ${root}/${UNIT}\n`), out);
  for (const f of SOCKETS) t.true(out.includes(`unchanged ${root}/${f}\n`), out);
  t.false(/^(wrote|updated|replaced|created) /m.test(out), out);

  await cli(t, ['uninstall', '--root', root]);
  t.false(existsSync(join(root, UNIT)));
  t.false(existsSync(join(root, CONFIG)), 'what install wrote goes without --purge too');
  t.deepEqual(readdirSync(root), [], 'install then uninstall leaves nothing behind');
  const again = await cli(t, ['uninstall', '--root', root]);
  t.regex(again, /already absent: .*ambitd\.service/);
  t.false(/^removed /m.test(again), again);
});

test('an edited ambitd.yaml is kept (the unit follows it) unless --force', async (t) => {
  const root = scratchRoot(t);
  await cli(t, ['install', '--root', root]);
  const file = join(root, CONFIG);
  const edited = readFileSync(file, 'utf8').replace('drainTimeout: 30s', 'drainTimeout: 60s').replace('logLevel: info', 'logLevel: debug');
  writeFileSync(file, edited);
  const out = await cli(t, ['install', '--root', root]);
  t.regex(out, /kept .*ambitd\.yaml: it differs .* pass --force to replace it/);
  t.is(readFileSync(file, 'utf8'), edited);
  t.regex(out, /updated .*ambitd\.service/);
  t.true(readFileSync(join(root, UNIT), 'utf8').includes('\nTimeoutStopSec=75s\n'), 'stop timeout follows the kept drainTimeout');

  const forced = await cli(t, ['install', '--root', root, '--force']);
  t.regex(forced, /replaced .*ambitd\.yaml/);
  t.is(parseDaemonConfig(readFileSync(file, 'utf8'), file).logLevel, 'info');
});

test('an edited ambitd.yaml with an error stops install with file:line, changing nothing', async (t) => {
  const root = scratchRoot(t);
  await cli(t, ['install', '--root', root]);
  const file = join(root, CONFIG);
  writeFileSync(file, readFileSync(file, 'utf8').replace('  admin: 15000', '  admin: 99999'));
  const before = listing(root);
  const err = await cli(t, ['install', '--root', root], 1);
  t.regex(err, new RegExp(`${file}:\\d+: ports\\.admin: .*pass --force`));
  t.deepEqual(listing(root), before);
});

test('bad values are usage errors (exit 2) that name the flag and write nothing', async (t) => {
  const root = scratchRoot(t);
  for (const [flag, value, pattern] of [
    ['--address', '10.0.0', /--address: "10\.0\.0" is not an IP address/],
    ['--node-name', 'Bad_Name', /--node-name: "Bad_Name" is not a DNS name/],
  ] as const) {
    t.regex(await cli(t, ['install', '--root', root, flag, value], 2), pattern);
  }
  t.regex(await cli(t, ['--redis', 'localhost:6379', 'install', '--root', root], 2), /--redis "localhost:6379": expected redis:\/\/host:port/);
  t.regex(await cli(t, ['install', '--root', join(root, 'nope')], 2), /--root .*nope: no such directory/);
  t.deepEqual(listing(root), []);
});

test('on the host itself, a non-root user is told to use sudo (or --dry-run) before anything happens', (t) => {
  for (const command of ['install', 'uninstall']) {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(REPO_ROOT, 'bin/ambit.js'), command], {
      encoding: 'utf8',
      cwd: REPO_ROOT,
      env: { ...process.env, AMBIT_LOG_LEVEL: 'silent' },
    });
    t.is(r.status, 1, r.stderr);
    t.is(r.stderr, `error: ambit ${command} changes /etc, systemd and iptables: run it as root (sudo ambit ${command} ...), or look first with --dry-run\n`);
  }
});

test('from a copy under /tmp, install (--dry-run too) stops first, before printing anything, and says where to put ambit', (t) => {
  // A copy as a user would unpack it under /tmp: the unit's PrivateTmp=yes would hide it from ambitd.
  const copy = mkdtempSync('/tmp/ambit-copy-');
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const part of ['bin', 'configs', 'package.json', 'dist/cli', 'dist/core']) cpSync(join(REPO_ROOT, part), join(copy, part), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  for (const args of [
    ['install', '--dry-run'],
    ['install', '--no-start'],
  ]) {
    const r = spawnSync(process.execPath, [join(copy, 'bin/ambit.js'), ...args], {
      encoding: 'utf8',
      cwd: copy,
      env: { ...process.env, AMBIT_LOG_LEVEL: 'silent' },
    });
    t.is(r.status, 1, r.stderr);
    t.is(r.stdout, '', `ambit ${args.join(' ')} printed before refusing`);
    t.regex(
      r.stderr,
      new RegExp(
        `${copy}/bin/ambitd\\.js is under /tmp or /var/tmp, which the unit hides from ambitd \\(PrivateTmp=yes\\), so ambitd would not start: install the \\.deb`,
      ),
    );
  }
});

/** systemd-analyze's verdict on a unit file: exit code and everything it printed (warnings included). */
function analyze(unitFile: string): { code: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  return { code: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

test('systemd-analyze verify accepts the generated unit without a single warning, and rejects a broken one', async (t) => {
  const found = spawnSync('systemd-analyze', ['--version']);
  if (found.error) t.fail('systemd-analyze is not installed: apt-get install -y systemd (scripts/test.sh installs it)');
  const root = scratchRoot(t);
  await cli(t, ['install', '--root', root, '--ca']);
  // A moved identity directory adds ReadWritePaths; check that variant too.
  const file = join(root, CONFIG);
  writeFileSync(file, readFileSync(file, 'utf8').replace('dir: /var/lib/ambit', `dir: ${root}/state`));
  await cli(t, ['install', '--root', root, '--ca']);
  const unitFile = join(root, UNIT);
  const unit = readFileSync(unitFile, 'utf8');
  t.true(unit.includes(`\nReadWritePaths=-/run/xtables.lock ${root}/state\n`), unit);
  t.true(unit.includes(' --ca\n'));
  t.deepEqual(analyze(unitFile), { code: 0, output: '' });
  for (const f of SOCKETS) t.deepEqual(analyze(join(root, f)), { code: 0, output: '' }, f);

  // The same check must be able to fail: a typo'd directive and a missing binary.
  const broken = join(root, 'etc/systemd/system/ambitd-broken.service');
  writeFileSync(broken, unit.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  t.regex(analyze(broken).output, /Unknown key 'NoNewPrivilege'/);
  writeFileSync(broken, unit.replaceAll(process.execPath, '/nonexistent/node'));
  t.not(analyze(broken).code, 0);
  // A socket unit checked the same way: a typo'd directive, and a service that needs a socket unit that is not there.
  const brokenSocket = join(root, 'etc/systemd/system/ambitd-broken.socket');
  writeFileSync(brokenSocket, readFileSync(join(root, SOCKETS[0]!), 'utf8').replace('FileDescriptorName=', 'FileDescriptorNames='));
  t.regex(analyze(brokenSocket).output, /Unknown key 'FileDescriptorNames'/);
  rmSync(brokenSocket);
  writeFileSync(broken, unit.replaceAll('ambitd-dns.socket', 'ambitd-nope.socket'));
  t.not(analyze(broken).code, 0, 'a Sockets= unit that does not exist');
});

netnsTest('uninstall on the real root removes the capture rules (run in a namespace of its own)', async (t) => {
  const topo = await withTopology(t, { hosts: ['node'] });
  const root = scratchRoot(t);
  await cli(t, ['install', '--root', root]);
  const apply = await topo.exec('node', 'bash', [join(REPO_ROOT, 'scripts/iptables/apply.sh'), '--uids', '1234', '--exempt-uid', '0', '--dns']);
  t.is(apply.code, 0, apply.stderr);
  t.regex((await topo.exec('node', 'iptables-save')).stdout, /-A AMBIT_OUTPUT/);

  // ip netns exec already gives a mount namespace of its own; the tmpfs hides the
  // host's /etc/systemd/system from uninstall, which then finds only our unit there.
  const hostUnits = readdirSync('/etc/systemd/system').sort();
  const script = `mount -t tmpfs ambit-test /etc/systemd/system && cp ${join(root, UNIT)} /etc/systemd/system/ && exec ${process.execPath} ${join(REPO_ROOT, 'bin/ambit.js')} uninstall`;
  const r = await topo.exec('node', 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    env: { ...process.env, AMBIT_LOG_LEVEL: 'silent' },
  });
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /removed \/etc\/systemd\/system\/ambitd\.service/);
  t.regex(r.stdout, /running: bash .*scripts\/iptables\/remove\.sh\nambit-iptables: capture rules removed/);
  t.notRegex(r.stdout, /directory/, 'directories recorded by an install under another root are not touched here');
  t.notRegex((await topo.exec('node', 'iptables-save')).stdout, /AMBIT_/);
  t.deepEqual(readdirSync('/etc/systemd/system').sort(), hostUnits, "the host's own unit directory is untouched");
});
