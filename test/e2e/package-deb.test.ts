/**
 * The .deb on a fresh Debian (issue 18): `npm run package` builds ambit_<version>_<arch>.deb,
 * apt installs it into a bookworm made by debootstrap from Debian's own packages (no Node,
 * no compiler, no checkout there), and the three commands work from it: `ambit version`
 * says package.json's version, `ambit doctor -o json` reports, `ambit install --root`
 * writes a unit that runs /opt/ambit's node and code, `ambitd --help` answers. Then the
 * npm tarball from the same build installs with `npm i -g` and builds its addon, and on
 * a host without build tools fails saying what to do (or, with --ignore-scripts, gives a
 * CLI whose ambitd refuses to start without the addon).
 *
 * The debootstrap root is cached in /var/cache/ambit-test/debootstrap/bookworm-<arch>
 * (AMBIT_DEBOOTSTRAP_CACHE): the first run makes it (under a minute on a near mirror),
 * later runs copy it, with apt's lists and the .debs it fetched, so a later run without the
 * mirror installs the same packages (and logs that it did). With neither a reachable mirror
 * nor a cache these tests fail, saying so.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { DEBOOTSTRAP_CACHE, DebianRoot, runHost } from '../helpers/debian-root.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch;
const DEB_NAME = `ambit_${VERSION.replace('-', '~')}_${ARCH}.deb`;
const STAGE = '/srv/ambit-stage';

let out: string | undefined;
let deb: string | undefined;
let root: DebianRoot | undefined;

test.before(() => {
  if (process.getuid?.() !== 0) throw new Error('the package tests build a .deb and a chroot: run them as root');
  out = mkdtempSync('/var/tmp/ambit-packages-');
});

test.after.always(() => {
  root?.destroy();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** The fields of a .deb's control file. */
async function debFields(file: string): Promise<Record<string, string>> {
  const r = await runHost('dpkg-deb', ['--field', file]);
  if (r.code !== 0) throw new Error(`dpkg-deb --field ${file}: ${r.stderr}`);
  return Object.fromEntries(r.stdout.split(/\n(?! )/).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

test.serial('npm run package builds the .deb and the npm tarball, named for package.json version', async (t) => {
  t.timeout(5 * 60_000);
  // Prebuilt: scripts/test.sh has just compiled dist/ and the addon, and other tests run from them.
  const r = await runHost('env', [`AMBIT_PACKAGE_OUT=${out!}`, 'AMBIT_PACKAGE_PREBUILT=1', 'bash', join(REPO_ROOT, 'scripts/package/build.sh')], 5 * 60_000);
  t.is(r.code, 0, r.stderr);
  t.true(existsSync(join(out!, DEB_NAME)), `no ${DEB_NAME} in ${out!}: ${r.stdout}`);
  t.true(existsSync(join(out!, `ambit-${VERSION}.tgz`)), `no ambit-${VERSION}.tgz: ${r.stdout}`);
  deb = join(out!, DEB_NAME);

  const fields = await debFields(deb);
  t.is(fields.Package, 'ambit');
  t.is(fields.Version, VERSION.replace('-', '~'));
  const depends = (fields.Depends ?? '').split(',').map((d) => d.trim().split(' ')[0]);
  for (const pkg of ['iptables', 'iproute2', 'nftables', 'libc6']) t.true(depends.includes(pkg), `Depends: ${fields.Depends}`);
  t.false(
    depends.some((d) => /^node/.test(d!)),
    `the package must not need Debian's nodejs: ${fields.Depends}`,
  );
  t.is(fields.Recommends, 'redis-server');

  const listing = await runHost('dpkg-deb', ['--contents', deb]);
  const paths = listing.stdout.split('\n').map((l) =>
    l
      .split(/\s+/)
      .slice(5)
      .join(' ')
      .replace(/ -> .*$/, ''),
  );
  for (const want of [
    './opt/ambit/node/bin/node',
    './opt/ambit/native/build/Release/original_dst.node',
    './opt/ambit/dist/daemon/main.js',
    './opt/ambit/scripts/iptables/apply.sh',
    './opt/ambit/configs/ambitd.service',
    './opt/ambit/node_modules/ioredis/package.json',
    './usr/bin/ambit',
    './usr/bin/ambitd',
    './usr/bin/ambit-waypoint',
  ])
    t.true(paths.includes(want), `${want} is not in the .deb`);
  // Production dependencies only, and nothing of the checkout's tests or sources.
  const ours = paths.filter((p) => p.startsWith('./opt/ambit/') && !p.startsWith('./opt/ambit/node_modules/'));
  const leaked = [
    ...paths.filter((p) => /^\.\/opt\/ambit\/node_modules\/(typescript|ava|eslint|prettier)\//.test(p)),
    ...ours.filter((p) => /^\.\/opt\/ambit\/(dist\/)?(test|bench|examples)\/|\.ts$|\.map$/.test(p)),
  ];
  t.deepEqual(leaked.slice(0, 5), [], 'dev dependencies, tests or sources in the .deb');
});

test.serial('the .deb installs with apt on a fresh bookworm that has no Node and no compiler, and its commands work there', async (t) => {
  t.timeout(10 * 60_000);
  if (!deb) return t.fail('no .deb: the build test above failed');
  root = await DebianRoot.fresh('bookworm', ARCH);
  t.log(`debootstrap cache: ${DEBOOTSTRAP_CACHE}; this run's root: ${root.dir}`);

  // The root really is bare: no node, no compiler, no checkout.
  const bare = await root.run('for c in node nodejs npm gcc cc g++ c++ make; do command -v $c && exit 1; done; exit 0');
  t.is(bare.code, 0, `debootstrap's root already has ${bare.stdout.trim()}`);
  t.false(existsSync(root.path(REPO_ROOT)), 'the checkout is visible in the root');

  // apt-get install ./x.deb: Depends (and Recommends: redis-server) from Debian's mirror.
  const copied = await runHost('cp', [deb, root.path(`tmp/${DEB_NAME}`)]);
  t.is(copied.code, 0, copied.stderr);
  const installed = await root.installWithApt([`/tmp/${DEB_NAME}`], 8 * 60_000);
  if (installed.offline) t.log(`the mirror is unreachable (${installed.offline}): apt used the lists and .debs kept from an earlier run`);
  t.is(installed.code, 0, `apt-get install failed:\n${installed.stdout.slice(-3000)}\n${installed.stderr}`);

  // Only /opt/ambit's node, and it is not on PATH.
  const nodes = await root.run('command -v node; find / -xdev -path /opt/ambit -prune -o -type f -name node -print');
  t.is(nodes.stdout.trim(), '', `a node outside /opt/ambit: ${nodes.stdout}`);
  const status = await root.run("dpkg-query -W -f='${Status} ${Version}' ambit");
  t.is(status.stdout, `install ok installed ${VERSION.replace('-', '~')}`);

  // From here on without the network: only the root's own loopback.
  const offline = { network: 'none' as const };
  const version = await root.run('cd / && ambit version -o json', offline);
  t.is(version.code, 0, version.stderr);
  t.like(JSON.parse(version.stdout), { ambit: VERSION });
  t.regex((await root.run('ambit --version', offline)).stdout, new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\b`));

  // doctor reports every check in JSON; with no ambitd and no Redis some FAIL (exit 1),
  // but what the package itself provides must be OK: its Node, iptables, the addon.
  const doctor = await root.run('ambit doctor -o json', { ...offline, timeoutMs: 60_000 });
  t.true(doctor.code === 0 || doctor.code === 1, `doctor exit ${doctor.code}: ${doctor.stderr}`);
  const report = JSON.parse(doctor.stdout) as { checks: { name: string; status: string; detail: string }[] };
  const check = (name: string) => report.checks.find((c) => c.name === name);
  t.is(check('node-version')?.status, 'OK', JSON.stringify(check('node-version')));
  t.regex(check('node-version')?.detail ?? '', /\/opt\/ambit\/node\/bin\/node/);
  t.is(check('iptables')?.status, 'OK', JSON.stringify(check('iptables')));
  t.not(check('conntrack')?.detail.includes('ENATIVE_MISSING'), true, JSON.stringify(check('conntrack')));
  t.is(check('redis')?.status, 'FAIL', 'doctor found a Redis in an empty network namespace');

  // install --root: the unit runs the package's node and code, whatever cwd or PATH.
  const staged = await root.run(`mkdir -p ${STAGE} && cd /tmp && ambit install --root ${STAGE} --no-start --node-name pkg-1`, offline);
  t.is(staged.code, 0, `${staged.stdout}\n${staged.stderr}`);
  const unit = readFileSync(root.path(`${STAGE}/etc/systemd/system/ambitd.service`), 'utf8');
  t.regex(unit, /^ExecStart=\/opt\/ambit\/node\/bin\/node \/opt\/ambit\/bin\/ambitd\.js --config \/etc\/ambit\/ambitd\.yaml$/m);
  t.regex(unit, /^ExecStopPost=\/opt\/ambit\/node\/bin\/node \/opt\/ambit\/bin\/ambitd\.js /m);
  t.regex(unit, /^Documentation=file:\/\/\/opt\/ambit\/README\.md$/m);
  t.regex(readFileSync(root.path(`${STAGE}/etc/ambit/ambitd.yaml`), 'utf8'), /pkg-1/);
  // What systemd would run (its ExecStart, no PATH, cwd /) reports the package's version too.
  const execStart = /^ExecStart=(\S+) (\S+)/m.exec(unit)!;
  const asUnit = await root.run(`cd / && env -i ${execStart[1]} /opt/ambit/bin/ambit.js version -o json`, offline);
  t.like(JSON.parse(asUnit.stdout || '{}'), { ambit: VERSION }, asUnit.stderr);

  for (const cmd of ['ambitd', 'ambit-waypoint']) {
    const help = await root.run(`${cmd} --help`, offline);
    t.is(help.code, 0, `${cmd} --help: ${help.stderr}`);
    t.regex(help.stdout, new RegExp(`^Usage: ${cmd} `), `${cmd} --help`);
  }
});

/**
 * A one-node mesh inside the root, from the package alone: the Redis it recommends, `ambit
 * store init` and `ca init`, `ambit install --ca`, then ambitd started exactly as the unit's
 * ExecStart says, with the clean environment and cwd / that systemd gives it. One script,
 * since each run gets a network and pid namespace of its own (and everything it started
 * dies with it).
 */
const MESH_SCRIPT = `set -e
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0
ip link set v0 up
ip link set v1 up
mkdir -p /etc/redis
touch /etc/redis/users.acl
redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes --aclfile /etc/redis/users.acl --logfile /tmp/redis.log
for i in $(seq 100); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
export AMBIT_REDIS_URL=redis://127.0.0.1:6379
ambit store init >/dev/null
export AMBIT_REDIS_CREDENTIALS=/etc/ambit/store/operator.json
ambit ca init >/dev/null
token=$(ambit node token create --node pkg-1 --ttl 10m)
ambit install --ca --node-name pkg-1 --address 10.99.0.1 --no-start >/dev/null
# What systemd's StateDirectory= and RuntimeDirectory= would have made.
mkdir -p -m 0700 /var/lib/ambit
mkdir -p /run/ambit
exec_start=$(sed -n 's/^ExecStart=//p' /etc/systemd/system/ambitd.service)
echo "ExecStart: $exec_start" >&2
(cd / && exec env -i $exec_start --token "$token" >/tmp/ambitd.log 2>&1) &
for i in $(seq 200); do
  ambit get nodes -o json 2>/dev/null | grep -q '"pkg-1"' && break
  kill -0 $! 2>/dev/null || { cat /tmp/ambitd.log >&2; exit 1; }
  sleep 0.2
done
ambit get nodes -o json >/tmp/nodes.json
for i in $(seq 100); do
  /opt/ambit/node/bin/node -e 'fetch("http://127.0.0.1:15020/metrics").then((r) => r.text()).then((t) => { process.stdout.write(t); process.exit(/^ambit_cert_expiry_seconds\\{/m.test(t) ? 0 : 1); }, () => process.exit(1))' >/tmp/metrics && break
  sleep 0.2
done
grep -q '^ambit_cert_expiry_seconds{' /tmp/metrics || { cat /tmp/ambitd.log >&2; exit 1; }
`;

test.serial(
  'ambitd started as its unit says, from the package, joins and reports the package version to ambit get nodes, and its certificate expiry',
  async (t) => {
    t.timeout(3 * 60_000);
    if (!root) return t.fail('no root: the install test above failed');
    const r = await root.run(MESH_SCRIPT, { network: 'none', timeoutMs: 2 * 60_000 });
    t.is(
      r.code,
      0,
      `${r.stdout}\n${r.stderr}\n${existsSync(root.path('tmp/ambitd.log')) ? readFileSync(root.path('tmp/ambitd.log'), 'utf8').slice(-3000) : ''}`,
    );
    t.regex(r.stderr, /^ExecStart: \/opt\/ambit\/node\/bin\/node \/opt\/ambit\/bin\/ambitd\.js --config \/etc\/ambit\/ambitd\.yaml --ca$/m);
    const nodes = JSON.parse(readFileSync(root.path('tmp/nodes.json'), 'utf8')) as { items: { name: string; version?: string }[] };
    t.like(
      nodes.items.find((n) => n.name === 'pkg-1'),
      { version: VERSION },
    );
    const metrics = readFileSync(root.path('tmp/metrics'), 'utf8');
    const expiry = /^ambit_cert_expiry_seconds\{identity="(spiffe:\/\/[^"]+)"\} (\d+)$/m.exec(metrics);
    t.truthy(expiry, metrics);
    // The node certificate: 7 days, just issued.
    t.true(Number(expiry?.[2]) > 6 * 24 * 3600, expiry?.[0]);
  },
);

test.serial('apt remove takes /opt/ambit and the commands away, and with a unit written, removes the capture rules first', async (t) => {
  if (!root) return t.fail('no root: the install test above failed');
  // Offline: the prerm runs scripts/iptables/remove.sh, which must only ever see the root's own namespace.
  // Rules as a stopped ambitd leaves them (fail closed), then the removal, then what is left.
  const script = [
    'bash /opt/ambit/scripts/iptables/apply.sh --uids 2001',
    'iptables-save | grep -q AMBIT_OUTPUT',
    'apt-get remove -y -q ambit',
    '! command -v ambit',
    'test ! -e /opt/ambit',
    '! iptables-save | grep AMBIT',
  ].join(' && ');
  const removed = await root.run(script, { network: 'none', timeoutMs: 2 * 60_000 });
  t.is(removed.code, 0, `${removed.stdout}\n${removed.stderr}`);
  t.regex(removed.stdout, /ambit: removing ambitd's capture rules/);
  t.regex(removed.stdout, /kept \/etc\/systemd\/system\/ambitd\.service, \/etc\/ambit and \/var\/lib\/ambit/);
  t.true(existsSync(root.path('etc/ambit/ambitd.yaml')), 'removing the package removed the settings');
  t.true(existsSync(root.path(`${STAGE}/etc/ambit/ambitd.yaml`)));
});

test.serial('the npm tarball installs with npm i -g on a host with Node and build tools, and builds the addon', async (t) => {
  t.timeout(5 * 60_000);
  const tarball = join(out!, `ambit-${VERSION}.tgz`);
  if (!existsSync(tarball)) return t.fail('no tarball: the build test above failed');
  const prefix = mkdtempSync('/var/tmp/ambit-npm-global-');
  t.teardown(() => rmSync(prefix, { recursive: true, force: true }));
  const r = await runHost('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], 5 * 60_000);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const pkg = join(prefix, 'lib/node_modules/ambit');
  t.true(existsSync(join(pkg, 'native/build/Release/original_dst.node')), `the install did not build the addon:\n${r.stderr}`);
  const version = await runHost(join(prefix, 'bin/ambit'), ['version', '-o', 'json']);
  t.is(version.code, 0, version.stderr);
  t.like(JSON.parse(version.stdout), { ambit: VERSION });
  const addon = await runHost(process.execPath, ['-e', `require(${JSON.stringify(join(pkg, 'native/build/Release/original_dst.node'))}).getOriginalDst`]);
  t.is(addon.code, 0, addon.stderr);
});

test.serial(
  'without build tools, npm i -g of the tarball fails saying what to do; --ignore-scripts gives the CLI, and ambitd then refuses to start naming the addon',
  async (t) => {
    t.timeout(5 * 60_000);
    const tarball = join(out!, `ambit-${VERSION}.tgz`);
    if (!existsSync(tarball)) return t.fail('no tarball: the build test above failed');
    const dir = mkdtempSync('/var/tmp/ambit-npm-bare-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    // A PATH with node and a shell but no python3, make or g++: a host without build tools.
    mkdirSync(join(dir, 'bin'));
    for (const tool of ['sh', 'bash', 'dirname', 'cat', 'node']) {
      const found = await runHost('sh', ['-c', `command -v ${tool}`]);
      symlinkSync(found.stdout.trim(), join(dir, 'bin', tool));
    }
    const npmCli = join(dirname(realpathSync((await runHost('sh', ['-c', 'command -v npm'])).stdout.trim())), 'npm-cli.js');
    const npm = (args: string[]) =>
      runHost(
        'env',
        [
          '-i',
          `PATH=${join(dir, 'bin')}`,
          'HOME=/root',
          process.execPath,
          npmCli,
          'install',
          '--global',
          '--prefix',
          join(dir, 'prefix'),
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          ...args,
          tarball,
        ],
        5 * 60_000,
      );

    const failed = await npm([]);
    t.is(failed.code, 1, failed.stderr);
    t.regex(failed.stderr, /missing python3 make g\+\+/);
    t.regex(failed.stderr, /install the \.deb/);
    t.regex(failed.stderr, /npm install -g --ignore-scripts/);
    t.false(existsSync(join(dir, 'prefix/bin/ambit')), 'a failed install left ambit behind');

    const cliOnly = await npm(['--ignore-scripts']);
    t.is(cliOnly.code, 0, cliOnly.stderr);
    const pkg = join(dir, 'prefix/lib/node_modules/ambit');
    t.false(existsSync(join(pkg, 'native/build/Release/original_dst.node')));
    const version = await runHost(process.execPath, [join(pkg, 'bin/ambit.js'), 'version', '-o', 'json']);
    t.like(JSON.parse(version.stdout || '{}'), { ambit: VERSION }, version.stderr);
    // Before it touches the store or the network: the settings file says where nothing is.
    writeFileSync(
      join(dir, 'ambitd.yaml'),
      `node: {name: bare, address: 192.0.2.7}\nstore: {url: 'redis://127.0.0.1:9'}\nidentity: {dir: ${join(dir, 'id')}}\n`,
    );
    const daemon = await runHost(process.execPath, [join(pkg, 'bin/ambitd.js'), '--config', join(dir, 'ambitd.yaml')], 30_000);
    t.is(daemon.code, 1, daemon.stderr);
    t.regex(daemon.stderr, new RegExp(`the SO_ORIGINAL_DST addon is not built .*run npm run build:native in ${pkg}`));
  },
);
