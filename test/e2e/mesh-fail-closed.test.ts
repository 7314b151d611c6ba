/**
 * Fail closed (DESIGN.md, issue 13) on real netns hosts, real iptables, real
 * daemons: with ambitd SIGKILLed on host a, its rules stay, so an enrolled
 * client on a is refused at once when it connects to a mesh service, by VIP or
 * by the endpoint's own address (which, with the rules gone, would carry the
 * bytes in plaintext), and neither the server nor the wire sees them; plaintext
 * to a's STRICT port is refused too. After ambitd restarts it takes the same
 * rules over without duplicating them, and mesh traffic (into a, over mTLS,
 * and out of a) works again while STRICT still refuses plaintext.
 *
 * b runs the signer (started first) so that a can be killed and come back.
 */
import test, { type ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { REPO_ROOT } from '../helpers/cli.js';

const AMBITD = join(REPO_ROOT, 'bin/ambitd.js');

const TAG = Math.random().toString(36).slice(2, 10);
/** What the enrolled client sends: must never reach b or the wire while a's daemon is down. */
const SECRET = `client-secret-${TAG}`;
/** Sent by root on a (not enrolled, never captured): proves the capture below sees plaintext when there is some. */
const CONTROL = `control-plaintext-${TAG}`;
const SINK_REPLY = `sink-says-${TAG}`;
const PRODUCTPAGE_REPLY = `productpage-says-${TAG}`;
const CLIENT_UID = 2001;
const RATINGS_UID = 2002;
const SINK_NAME = 'sink.open.svc.cluster.local';
const PRODUCTPAGE_NAME = 'productpage.default.svc.cluster.local';

let mesh: Mesh;
let sink: ChildProcess;
let sinkLog = '';
let productpageLog = '';
/** a's rules while its ambitd was up, normalised. */
let rulesBefore = '';
let sinkVip = '';

/** A TCP server that logs each line it gets and answers one line. */
const sinkServer = (address: string, port: number): string =>
  `require('net').createServer((s) => s.once('data', (d) => { console.log('data ' + d.toString().trim()); s.end(${JSON.stringify(SINK_REPLY)} + '\\n'); }))` +
  `.listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;
const httpServer = (address: string, port: number, body: string): string =>
  `const srv = require('http').createServer((q, s) => s.end(${JSON.stringify(body)})); srv.on('connection', (c) => console.log('conn ' + c.remoteAddress));` +
  `srv.listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;
/** Connects, sends `line`, prints "reply ..." or "error CODE after MS". */
const client = (host: string, port: number, line: string): string => `const t0 = Date.now(); let got = '';
const s = require('net').connect(${port}, ${JSON.stringify(host)});
s.setTimeout(5000, () => { console.log('timeout after ' + (Date.now() - t0)); process.exit(3); });
s.on('connect', () => s.write(${JSON.stringify(line)} + '\\n'));
s.on('data', (d) => { got += d; });
s.on('end', () => { console.log('reply ' + got.trim()); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.code + ' after ' + (Date.now() - t0)); process.exit(2); });`;

const asClient = (target: string, port: number, line = SECRET) => mesh.asUser('a', CLIENT_UID, process.execPath, ['-e', client(target, port, line)]);
/** Plaintext from c as root (not enrolled, so not captured) to a's STRICT port. */
const plaintextToA = () => mesh.topo.exec('c', 'curl', ['-sS', '--max-time', '5', `http://${mesh.topo.host('a').address}:9080/`]);
/** ratings on c through the mesh (HBONE, mTLS) to productpage on a. */
const meshToA = () => mesh.asUser('c', RATINGS_UID, 'curl', ['-sS', '--max-time', '5', `http://${PRODUCTPAGE_NAME}:9080/`]);

/** iptables-save without comments and counters, so two dumps of the same rules compare equal. */
const normalised = (save: string): string =>
  save
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.trim() !== '')
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');
const rulesOfA = async (): Promise<string> => normalised((await mesh.topo.exec('a', 'iptables-save')).stdout);

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  const a = mesh.topo.host('a');
  const b = mesh.topo.host('b');
  sink = mesh.topo.spawn('b', process.execPath, ['-e', sinkServer(b.address, 9090)]);
  sink.stdout?.on('data', (d: Buffer) => (sinkLog += d.toString()));
  await waitForOutput(sink, /listening/);
  const productpage = mesh.topo.spawn('a', process.execPath, ['-e', httpServer(a.address, 9080, PRODUCTPAGE_REPLY)]);
  productpage.stdout?.on('data', (d: Buffer) => (productpageLog += d.toString()));
  await waitForOutput(productpage, /listening/);
  // b first: it runs the signer, which must outlive a's daemon.
  for (const host of ['b', 'c', 'a']) await mesh.startDaemon(host);
  // sink is in a PERMISSIVE namespace: b itself would let plaintext in, so only a's rules stand between the client and b.
  await mesh.enroll('b', ['sink', '--port', '9090', '-n', 'open']);
  await mesh.enroll('a', ['productpage', '--port', '9080', '--user', String(CLIENT_UID)]);
  await mesh.enroll('c', ['ratings', '--port', '9080', '--user', String(RATINGS_UID)]);
  const strict = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec: {mtls: {mode: STRICT}}\n';
  const applied = await mesh.ambit('store', ['apply', '-f', '-'], strict);
  if (applied.code !== 0) throw new Error(`apply STRICT: ${applied.stderr}`);
  await eventually(async () => (await asClient(SINK_NAME, 9090)).stdout.trim() === `reply ${SINK_REPLY}`, 30_000);
  await eventually(async () => (await meshToA()).stdout === PRODUCTPAGE_REPLY, 30_000);
  await eventually(async () => (await plaintextToA()).code !== 0, 15_000);
  const dump = JSON.parse(await mesh.admin('a', '/config_dump')) as { services?: { name: string; vip: string }[] };
  sinkVip = dump.services?.find((s) => s.name === SINK_NAME)?.vip ?? '';
  if (!sinkVip) throw new Error(`no VIP for ${SINK_NAME} in a's config_dump`);
});

test.after.always(async () => {
  await mesh?.destroy();
});

test.serial('while ambitd runs: the mesh works, STRICT refuses plaintext, and a captures the endpoint address too', async (t) => {
  t.is((await asClient(SINK_NAME, 9090)).stdout.trim(), `reply ${SINK_REPLY}`);
  t.is((await asClient(sinkVip, 9090)).stdout.trim(), `reply ${SINK_REPLY}`, 'by VIP');
  t.is((await meshToA()).stdout, PRODUCTPAGE_REPLY, 'mTLS into a');
  rulesBefore = await rulesOfA();
  const plain = await plaintextToA();
  t.is(plain.code, 7, `plaintext to the STRICT port is refused: ${plain.stderr}`);
  t.true(
    rulesBefore.includes(`-d ${mesh.topo.host('b').address}/32 -p tcp -m owner --uid-owner ${CLIENT_UID} -j REDIRECT`),
    "b's address is a mesh address on a",
  );
  t.regex(rulesBefore, /-A AMBIT_INBOUND -p tcp -m tcp --dport 9080 -j REJECT --reject-with tcp-reset/);
});

/** What systemd's ExecStopPost runs after every stop of the unit (configs/ambitd.service). */
async function execStopPost(t: ExecutionContext, serviceResult: string): Promise<void> {
  const r = await mesh.topo.exec('a', process.execPath, [AMBITD, '--config', join(mesh.dir, 'a.yaml'), '--after-exit'], {
    env: { ...process.env, SERVICE_RESULT: serviceResult, AMBIT_LOG_LEVEL: 'info' },
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /after exit: capture rules left as they are: fail closed/);
}

/** With a's daemon gone: its rules as they were, the enrolled client refused at once (by VIP and by b's address), nothing of it on the wire or at b. */
async function assertFailsClosed(t: ExecutionContext, round: string): Promise<void> {
  const b = mesh.topo.host('b');
  t.is(await rulesOfA(), rulesBefore, `${round}: the rules are exactly as the running daemon left them`);
  const file = join(mesh.dir, `fail-closed-${round}.pcap`);
  const dump = mesh.topo.spawn('b', 'tcpdump', ['--immediate-mode', '-U', '-n', '-i', b.veth, '-w', file, 'tcp port 9090']);
  t.teardown(() => void dump.kill('SIGKILL'));
  await waitForOutput(dump, /listening on/, 10_000);
  const sinkBefore = sinkLog;
  for (const target of [sinkVip, b.address]) {
    const r = await asClient(target, 9090);
    const refused = /^error ECONNREFUSED after (\d+)$/.exec(r.stdout.trim());
    t.truthy(refused, `${round}: ${target}:9090 from the enrolled client: ${r.stdout}${r.stderr}`);
    t.true(Number(refused?.[1]) < 1000, `refused in ${refused?.[1]} ms, not left to time out`);
    t.log(`${round}: ${target}:9090 with ambitd down: ECONNREFUSED in ${refused?.[1]} ms`);
  }
  // The capture works: root's uncaptured plaintext to the same port is on the wire and at the sink.
  const control = await mesh.topo.exec('a', process.execPath, ['-e', client(b.address, 9090, CONTROL)]);
  t.is(control.stdout.trim(), `reply ${SINK_REPLY}`, 'uncaptured traffic still flows (root is not enrolled)');
  await new Promise((r) => setTimeout(r, 500));
  const closed = new Promise((r) => dump.once('close', r));
  dump.kill('SIGINT');
  await closed;
  const wire = readFileSync(file);
  t.true(wire.includes(CONTROL), 'the capture sees plaintext when there is some');
  t.false(wire.includes(SECRET), "the enrolled client's bytes never crossed the wire");
  const atSink = sinkLog.slice(sinkBefore.length);
  t.regex(atSink, new RegExp(`data ${CONTROL}`));
  t.false(atSink.includes(SECRET), 'nor reached the server');

  const before = productpageLog;
  const plain = await plaintextToA();
  // 7: the connect itself failed (the kernel's RST), no HTTP exchanged.
  t.is(plain.code, 7, `${round}: plaintext to the STRICT port: ${plain.stderr}`);
  t.is(productpageLog.slice(before.length), '', 'productpage saw no connection');
  t.not((await meshToA()).stdout, PRODUCTPAGE_REPLY, 'and nothing answers mTLS either: no daemon on 15008');
}

/** a's daemon started again over the rules it left: they are taken over once, and everything works as before. */
async function assertRestarts(t: ExecutionContext, round: string): Promise<void> {
  const started = Date.now();
  await mesh.startDaemon('a');
  const ready = Date.now() - started;
  await eventually(async () => (await asClient(SINK_NAME, 9090)).stdout.trim() === `reply ${SINK_REPLY}`, 30_000);
  const flowing = Date.now() - started;
  t.log(`${round}: ambitd ready after ${ready} ms, the enrolled client's mesh connection works after ${flowing} ms`);
  t.is((await asClient(sinkVip, 9090)).stdout.trim(), `reply ${SINK_REPLY}`, 'by VIP');
  await eventually(async () => (await meshToA()).stdout === PRODUCTPAGE_REPLY, 20_000);
  t.is((await plaintextToA()).code, 7, 'STRICT still refuses plaintext');
  const after = await rulesOfA();
  t.is(after, rulesBefore, 'the same rules, once each');
  t.is(after.match(/^-A OUTPUT .*-j AMBIT_OUTPUT$/gm)?.length, 1, 'one jump into capture');
  t.is(after.match(/^-A INPUT .*-j AMBIT_INBOUND$/gm)?.length, 1, 'one jump into STRICT');
  t.regex(mesh.logs('a'), /"msg":"fail closed: while ambitd is not running its capture rules stay/);
}

test.serial('ambitd SIGKILLed (and ExecStopPost run after it): the host fails closed', async (t) => {
  await mesh.killDaemon('a');
  await execStopPost(t, 'signal');
  await assertFailsClosed(t, 'SIGKILL');
});

test.serial('ambitd restarted after the SIGKILL: rules taken over, not duplicated; mesh and mTLS work, STRICT still refuses plaintext', async (t) => {
  await assertRestarts(t, 'after SIGKILL');
});

test.serial('a clean stop (SIGTERM, then ExecStopPost) fails closed too, and a restart recovers', async (t) => {
  await mesh.stopDaemon('a');
  t.regex(mesh.logs('a'), /"msg":"capture rules left in place: fail closed/);
  await execStopPost(t, 'success');
  await assertFailsClosed(t, 'SIGTERM');
  await assertRestarts(t, 'after SIGTERM');
});
