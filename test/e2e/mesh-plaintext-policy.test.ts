/**
 * Plaintext inbound under L4 AuthorizationPolicy, end to end (issue 19): netns
 * hosts a and b run ambitd, c is a host outside the mesh. As ztunnel does,
 * plaintext to a workload has no principal: an ALLOW that names principals
 * refuses it, ipBlocks allow or deny it, and local users of b that are not
 * enrolled get the same treatment over loopback, while an enrolled local user
 * is its workload's identity (the kernel says whose socket it is).
 */
import test from 'ava';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { metricSum as metric } from '../helpers/prometheus-text.js';

const MARKER = `reviews-says-${Math.random().toString(36).slice(2, 10)}`;
const CLIENT_UID = 2201;
/** Enrolled on b as another endpoint of `client`: the identity the ALLOW names. */
const LOCAL_CLIENT_UID = 2202;
/** A user of b that no enrollment names. */
const STRANGER_UID = 2299;
const NAME = 'reviews.default.svc.cluster.local';

let mesh: Mesh;
let b = '';
let c = '';

const ALLOW_CLIENT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-allow-client, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/client]}}]}]
`;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  b = mesh.topo.host('b').address;
  c = mesh.topo.host('c').address;
  // On every address of b, so a local user can also dial 127.0.0.1.
  const service = mesh.topo.spawn('b', process.execPath, [
    '-e',
    `require('http').createServer((q, s) => s.end(${JSON.stringify(MARKER)})).listen(9080, '0.0.0.0', () => console.log('listening'))`,
  ]);
  await waitForOutput(service, /listening/);
  for (const host of ['a', 'b']) await mesh.startDaemon(host);
  await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'app=reviews']);
  await mesh.enroll('a', ['client', '--port', '9000', '--user', String(CLIENT_UID)]);
  await mesh.enroll('b', ['client', '--port', '9001', '--user', String(LOCAL_CLIENT_UID)]);
  await eventually(async () => (await viaMesh()).stdout === MARKER, 30_000);
  // b's rules for reviews are in: plaintext now reaches it through b's daemon.
  await eventually(async () => /AMBIT_PREROUTING .*--dport 9080 -j REDIRECT/.test((await mesh.topo.exec('b', 'iptables-save')).stdout), 15_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

const curl = (target: string) => ['-sS', '--max-time', '5', target];
/** The enrolled client on a, by mesh name: HBONE with identity sa/client. */
const viaMesh = () => mesh.asUser('a', CLIENT_UID, 'curl', curl(`http://${NAME}:9080/`));
/** From c, outside the mesh: plaintext to b's address. */
const fromOutside = () => mesh.topo.exec('c', 'curl', curl(`http://${b}:9080/`));
/** A local user of b, to b's address or to loopback. */
const asLocal = (uid: number, address = b) => mesh.asUser('b', uid, 'curl', curl(`http://${address}:9080/`));

/**
 * Refused by the mesh: reset or refused by the daemon or a REJECT rule (curl 7, 52, 55, 56), not
 * merely slow (28, a loaded machine), which must not pass for a refusal.
 */
const refused = (r: { code: number | null }): boolean => r.code === 7 || r.code === 52 || r.code === 55 || r.code === 56;

/** b's rules and the end of its daemon's log, for a failure message. */
async function diagnose(): Promise<string> {
  const rules = (await mesh.topo.exec('b', 'iptables-save')).stdout.split('\n').filter((l) => l.includes('AMBIT'));
  return [...rules, ...mesh.logs('b').trim().split('\n').slice(-15)].join('\n');
}

async function apply(yaml: string): Promise<void> {
  const r = await mesh.ambit('store', ['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
}

async function remove(kind: string, name: string): Promise<void> {
  const r = await mesh.ambit('store', ['delete', kind, name]);
  if (r.code !== 0) throw new Error(`delete failed: ${r.stderr}`);
}

test.serial('without a policy, plaintext from outside and from local users is let in, through the daemon, and counted as plaintext', async (t) => {
  t.is((await fromOutside()).stdout, MARKER);
  t.is((await asLocal(STRANGER_UID)).stdout, MARKER);
  t.is((await asLocal(STRANGER_UID, '127.0.0.1')).stdout, MARKER);
  await eventually(async () => {
    const text = await mesh.admin('b', '/metrics', 15020);
    return metric(text, 'istio_tcp_connections_closed_total', { reporter: 'destination', connection_security_policy: 'none', destination_service: NAME }) >= 3;
  }, 5000);
  t.regex(mesh.logs('b'), /inbound plaintext connection closed/);
});

test.serial('ALLOW only sa/client: plaintext from outside and from a local stranger is refused; the mesh and an enrolled local user pass', async (t) => {
  await apply(ALLOW_CLIENT);
  await eventually(async () => refused(await fromOutside()), 15_000);
  t.true(refused(await asLocal(STRANGER_UID)), "a local user that is not enrolled has no principal: refused on b's address");
  t.true(refused(await asLocal(STRANGER_UID, '127.0.0.1')), 'and over loopback');
  t.is((await viaMesh()).stdout, MARKER, 'sa/client over HBONE is allowed');
  const local = await asLocal(LOCAL_CLIENT_UID, '127.0.0.1');
  t.is(local.stdout, MARKER, `b's own enrolled client is sa/client by its socket's owner: ${local.stderr}`);
  t.regex(mesh.logs('b'), /"src":"plaintext".*connection denied by AuthorizationPolicy/);
  const text = await mesh.admin('b', '/metrics', 15020);
  t.true(
    metric(text, 'ambit_authz_denials_total', { source_principal: '', reason: 'policy' }) >= 3,
    text
      .split('\n')
      .filter((l) => l.startsWith('ambit_authz'))
      .join('\n'),
  );
  await remove('authorizationpolicy', 'reviews-allow-client');
  await eventually(async () => (await fromOutside()).stdout === MARKER, 15_000);
});

test.serial("an ipBlocks DENY refuses c's plaintext and nothing else; an ipBlocks ALLOW lets it in", async (t) => {
  await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-c, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{from: [{source: {ipBlocks: ["${c}/32"]}}]}]
`);
  await eventually(async () => refused(await fromOutside()), 15_000);
  const stranger = await asLocal(STRANGER_UID);
  t.is(
    stranger.stdout,
    MARKER,
    `the DENY names only c: ${stranger.stderr}\n${mesh
      .logs('b')
      .split('\n')
      .filter((l) => /plaintext/.test(l))
      .slice(-5)
      .join('\n')}`,
  );
  t.is((await viaMesh()).stdout, MARKER);
  await remove('authorizationpolicy', 'deny-c');
  await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-c, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules: [{from: [{source: {ipBlocks: ["${c}/32"]}}]}]
`);
  await eventually(async () => (await fromOutside()).stdout === MARKER, 15_000);
  t.true(refused(await asLocal(STRANGER_UID)), 'the ALLOW names only c, so a local stranger is refused');
  await remove('authorizationpolicy', 'allow-c');
  await eventually(async () => (await asLocal(STRANGER_UID)).stdout === MARKER, 15_000);
});

test.serial('STRICT: a local stranger is refused over loopback too; an enrolled local user is not', async (t) => {
  await apply('apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec: {mtls: {mode: STRICT}}\n');
  await eventually(async () => refused(await asLocal(STRANGER_UID, '127.0.0.1')), 15_000);
  // The daemon refuses a stranger as soon as its state has STRICT; from outside it is the REJECT rule, applied just after.
  await eventually(async () => /AMBIT_INBOUND .*--dport 9080 -j REJECT/.test((await mesh.topo.exec('b', 'iptables-save')).stdout), 15_000);
  t.true(refused(await fromOutside()), 'from outside, the STRICT REJECT rule');
  t.is((await asLocal(LOCAL_CLIENT_UID, '127.0.0.1')).stdout, MARKER);
  t.is((await viaMesh()).stdout, MARKER);
  t.regex(mesh.logs('b'), /plaintext connection refused: PeerAuthentication STRICT/);
  await remove('peerauthentication', 'default');
  await eventually(async () => (await asLocal(STRANGER_UID, '127.0.0.1')).stdout === MARKER, 15_000);
});

test.serial('ambitd stopped (fail closed): plaintext to the workload is refused, not let through unchecked; back after a restart', async (t) => {
  await mesh.stopDaemon('b');
  t.true(refused(await fromOutside()));
  t.true(refused(await asLocal(STRANGER_UID)));
  await mesh.startDaemon('b');
  await eventually(async () => (await fromOutside()).stdout === MARKER, 30_000).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}; b after the restart:\n${await diagnose()}`);
  });
  t.is((await asLocal(STRANGER_UID)).stdout, MARKER);
});
