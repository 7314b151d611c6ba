// scripts/iptables/{apply,check,remove}.sh against real netfilter, always inside
// namespaces made for the test, so the machine's own tables are never touched.

import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { netnsTest } from '../helpers/netns-test.js';
import { withTopology, type Topology } from '../helpers/netns.js';
import { mustExec, probeConnect, startProbeServer } from './fixtures/probe.js';

const SCRIPTS = fileURLToPath(new URL('../../../scripts/iptables/', import.meta.url));
const ENROLLED = 1234;
const STRANGER = 1235;
const DAEMON = 4321;
const MARKED = 1236; // enrolled, but the test marks its packets the way the daemon marks its sockets

type Env = NodeJS.ProcessEnv;

async function script(topo: Topology, name: string, args: string[], env?: Env): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec('node', 'bash', [join(SCRIPTS, `${name}.sh`), ...args], { env });
  return { code: r.code, out: r.stdout + r.stderr };
}

async function mustScript(topo: Topology, name: string, args: string[], env?: Env): Promise<string> {
  const r = await script(topo, name, args, env);
  if (r.code !== 0) throw new Error(`${name}.sh ${args.join(' ')} exited ${r.code}:\n${r.out}`);
  return r.out;
}

/** Both families' rulesets, minus what changes by itself: "# Generated" lines and [packets:bytes] counters. */
async function rulesets(topo: Topology, env?: Env): Promise<string> {
  const saves = await Promise.all(['iptables-save', 'ip6tables-save'].map((cmd) => mustExec(topo, 'node', cmd, [], { env })));
  return saves
    .join('')
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/\s*\[\d+:\d+\]$/, ''))
    .join('\n');
}

const asUser = (uid: number, gid = uid): string[] => ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];

/** A PATH directory whose iptables* commands are the legacy backend, to exercise both. */
function legacyEnv(t: ExecutionContext): Env {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const cmd of ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore']) {
    symlinkSync(`/usr/sbin/${cmd.replace(/^(ip6?tables)/, '$1-legacy')}`, join(dir, cmd));
  }
  return { ...process.env, PATH: `${dir}:${process.env['PATH'] ?? ''}` };
}

const FULL = [
  '--uids',
  `${ENROLLED},${MARKED}`,
  '--mesh-cidrs',
  '240.240.0.0/16,10.9.0.0/24,fd00:9::/64',
  '--exempt-uid',
  String(DAEMON),
  '--dns',
  '--strict-ports',
  '9080,9443',
];
const OTHER = ['--uids', String(ENROLLED), '--mesh-cidrs', '240.240.0.0/16', '--exempt-gid', String(DAEMON), '--ipv6', 'off'];

/** The lifecycle: apply, check, re-apply, change options, remove; the ruleset must end as it began. */
async function lifecycle(t: ExecutionContext, topo: Topology, env?: Env): Promise<void> {
  const before = await rulesets(topo, env);

  t.regex(await mustScript(topo, 'apply', FULL, env), /applied/);
  t.regex(await mustScript(topo, 'check', FULL, env), /in place/);
  const applied = await rulesets(topo, env);
  t.regex(applied, /-A OUTPUT .*-j AMBIT_OUTPUT/);
  t.regex(applied, /-A INPUT .*-j AMBIT_INBOUND/);

  await mustScript(topo, 'apply', FULL, env);
  t.is(await rulesets(topo, env), applied, 'a second apply with the same options changes nothing');

  const drift = await script(topo, 'check', OTHER, env);
  t.is(drift.code, 1, drift.out);
  t.regex(drift.out, /nat\/AMBIT_OUTPUT has \d+ rules, expected/);

  await mustScript(topo, 'apply', OTHER, env);
  t.regex(await mustScript(topo, 'check', OTHER, env), /in place/);
  t.not((await script(topo, 'check', FULL, env)).code, 0);
  t.notRegex(await mustExec(topo, 'node', 'ip6tables-save', [], { env }), /AMBIT_/, '--ipv6 off clears IPv6 rules left by an earlier apply');

  await mustScript(topo, 'remove', [], env);
  t.is(await rulesets(topo, env), before);
  await mustScript(topo, 'remove', [], env);
  t.is(await rulesets(topo, env), before, 'remove is idempotent');

  const gone = await script(topo, 'check', FULL, env);
  t.is(gone.code, 1);
  t.regex(gone.out, /no jump from nat\/OUTPUT to AMBIT_OUTPUT/);

  // A fail-open drain: the jumps first (nothing new captured, redirected connections keep their
  // NAT), then the rest, told which tables apply.sh had created; the ruleset ends as it began.
  await mustScript(topo, 'apply', FULL, env);
  const jumps = await mustScript(topo, 'remove', ['--jumps-only'], env);
  const draining = await rulesets(topo, env);
  t.notRegex(draining, /-j AMBIT_(OUTPUT|INBOUND)/, 'no jump into our chains');
  t.regex(draining, /-A AMBIT_OUTPUT .*REDIRECT/, 'the chains stay while connections drain');
  const created = /^created-tables: (\S+)$/m.exec(jumps)?.[1];
  await mustScript(topo, 'remove', created ? ['--created-tables', created] : [], env);
  t.is(await rulesets(topo, env), before, 'the removal after the drain leaves the ruleset as it began');
  const bad = await script(topo, 'remove', ['--created-tables', '4:bogus'], env);
  t.is(bad.code, 2);
  t.regex(bad.out, /"4:bogus" is not FAMILY:TABLE/);
}

/** Rules a host might already have, which ambit must neither disturb nor leave changed. */
async function seedHostRules(topo: Topology, env?: Env): Promise<void> {
  for (const cmd of ['iptables', 'ip6tables']) {
    await mustExec(topo, 'node', cmd, ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'], { env });
    await mustExec(topo, 'node', cmd, ['-t', 'nat', '-N', 'HOST_NAT'], { env });
    await mustExec(topo, 'node', cmd, ['-t', 'nat', '-A', 'OUTPUT', '-j', 'HOST_NAT'], { env });
  }
}

netnsTest('apply/check/remove in a fresh namespace leave iptables-save as it was (nf_tables or default backend)', async (t) => {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-ipt-' });
  await lifecycle(t, topo);
});

netnsTest("apply/check/remove keep a host's own rules intact", async (t) => {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-ipt-' });
  await seedHostRules(topo);
  await lifecycle(t, topo);
  t.regex(await mustExec(topo, 'node', 'iptables', ['-t', 'nat', '-S', 'OUTPUT']), /-j HOST_NAT/);
});

netnsTest('apply/check/remove work on the legacy backend too', async (t) => {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-ipt-' });
  const env = legacyEnv(t);
  // Legacy tables cannot be deleted once touched, so start from a host that has them, as real hosts do.
  await seedHostRules(topo, env);
  await lifecycle(t, topo, env);
  t.regex(await mustScript(topo, 'apply', OTHER, env), /legacy backend/);
  await mustScript(topo, 'remove', [], env);
});

netnsTest('only enrolled, unexempted users are captured, and their DNS too', async (t) => {
  const topo = await withTopology(t, { hosts: ['node', 'peer'], prefix: 'ambit-ipt-' });
  const peer = topo.host('peer').address;
  await Promise.all([
    startProbeServer(topo, 'peer', '0.0.0.0', 8080, 'peer'),
    startProbeServer(topo, 'node', '::', 15001, 'outbound'),
    startProbeServer(topo, 'node', '::', 15053, 'dns'),
    startProbeServer(topo, 'node', '0.0.0.0', 15053, 'dns', 'udp'),
  ]);
  const refused = await script(topo, 'apply', ['--uids', `${DAEMON}`, '--exempt-uid', `${DAEMON}`]);
  t.is(refused.code, 2);
  t.regex(refused.out, /would loop/);

  await mustScript(topo, 'apply', [
    '--uids',
    `${ENROLLED},${MARKED}`,
    '--mesh-cidrs',
    `240.240.0.0/16,${peer}/32`,
    '--exempt-uid',
    `${DAEMON}`,
    '--exempt-gid',
    `${DAEMON}`,
    '--dns',
  ]);
  // Mangle OUTPUT runs before nat OUTPUT: this stands in for the daemon's SO_MARK.
  await mustExec(topo, 'node', 'iptables', ['-t', 'mangle', '-A', 'OUTPUT', '-m', 'owner', '--uid-owner', `${MARKED}`, '-j', 'MARK', '--set-mark', '0x539']);

  const captured = await probeConnect(topo, 'node', peer, 8080, asUser(ENROLLED));
  t.is(captured.server, 'outbound', JSON.stringify(captured));
  t.deepEqual(captured.originalDst, { address: peer, port: 8080, family: 4 });
  const vip = await probeConnect(topo, 'node', '240.240.0.7', 80, asUser(ENROLLED));
  t.deepEqual(vip.originalDst, { address: '240.240.0.7', port: 80, family: 4 }, JSON.stringify(vip));

  for (const [who, user] of [
    ['an un-enrolled user', asUser(STRANGER)],
    ['the exempt daemon uid', asUser(DAEMON)],
    ['an enrolled uid running with the exempt gid', asUser(ENROLLED, DAEMON)],
    ['an enrolled uid whose socket carries the daemon mark', asUser(MARKED)],
    ['root', []],
  ] as const) {
    const direct = await probeConnect(topo, 'node', peer, 8080, [...user]);
    t.is(direct.server, 'peer', `${who}: ${JSON.stringify(direct)}`);
  }

  // Any resolver address, mesh or not: enrolled users' DNS goes to the daemon.
  const dns = await probeConnect(topo, 'node', '10.53.0.1', 53, asUser(ENROLLED));
  t.is(dns.server, 'dns', JSON.stringify(dns));
  t.deepEqual(dns.originalDst, { address: '10.53.0.1', port: 53, family: 4 });
  const udpDns = await probeConnect(topo, 'node', '10.53.0.1', 53, asUser(ENROLLED), 'udp');
  t.is(udpDns.server, 'dns', JSON.stringify(udpDns));
});

netnsTest('STRICT ports refuse plaintext from another host, PERMISSIVE ports and loopback pass', async (t) => {
  const topo = await withTopology(t, { hosts: ['node', 'peer'], prefix: 'ambit-ipt-' });
  const node = topo.host('node').address;
  await Promise.all([startProbeServer(topo, 'node', '0.0.0.0', 9080, 'strict'), startProbeServer(topo, 'node', '0.0.0.0', 9081, 'permissive')]);
  await mustScript(topo, 'apply', ['--strict-ports', '9080']);

  t.deepEqual(await probeConnect(topo, 'peer', node, 9080), { error: 'ECONNREFUSED' });
  t.is((await probeConnect(topo, 'peer', node, 9081)).server, 'permissive');
  // How the daemon hands over decrypted traffic: locally, to 127.0.0.1 or the node's own address.
  t.is((await probeConnect(topo, 'node', '127.0.0.1', 9080, asUser(DAEMON))).server, 'strict');
  t.is((await probeConnect(topo, 'node', node, 9080, asUser(DAEMON))).server, 'strict');

  await mustScript(topo, 'remove', []);
  t.is((await probeConnect(topo, 'peer', node, 9080)).server, 'strict', 'remove lifts STRICT');
});
