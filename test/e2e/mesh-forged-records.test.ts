/**
 * Full Redis access, no operator key: an attacker who owns the store (its admin
 * user) writes, one at a time and each undone before the next, (a) their own
 * root into the trust bundle, (b) an enrollment of productpage's identity on a
 * node the operator never enrolled it on, (c) the mesh-wide DENY deleted, then
 * relaxed under a manifest signed by an "operator" of their own CA. For each:
 * both daemons refuse it, and so does the signer (embedded in a's ambitd)
 * wherever it reads the record (the bundle; the manifest behind a certificate
 * request), logged and counted on :15020/metrics; the forged enrollment gets no workload
 * certificate even when node b itself asks for one; a client certificate from
 * the attacker's CA is refused on 15008; and the mesh keeps serving its last
 * good state: productpage still reaches reviews, ratings is still denied.
 */
import test from 'ava';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns-guard.js';
import type { ExecResult } from '../helpers/netns.js';
import { metricSum } from '../helpers/prometheus-text.js';

const ATTACKER = join(REPO_ROOT, 'dist/test/helpers/store-attacker.js');
const PRODUCTPAGE_UID = 2001;
const RATINGS_UID = 2002;
const MARKER = `forged-${Math.random().toString(36).slice(2, 10)}`;
const DENY_REF = 'AuthorizationPolicy/istio-system/deny-ratings';
const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ratings, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/ratings"]}}]}]
`;
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';
const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const REFUSED = 'ambit_config_signature_refused_total';
/** How long a daemon may take to see a change and count its refusal. */
const SEEN_MS = 20_000;

let mesh: Mesh;
let state: string;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  state = join(mesh.dir, 'attacker');
  mkdirSync(state);
  await mesh.serveText('b', 9080, MARKER);
  await mesh.startDaemon('a');
  await mesh.startDaemon('b');
  await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'app=reviews']);
  await mesh.enroll('a', ['productpage', '--port', '9080', '--user', String(PRODUCTPAGE_UID)]);
  await mesh.enroll('a', ['ratings', '--port', '9081', '--user', String(RATINGS_UID)]);
  await mesh.ambit('store', ['apply', '-f', '-'], DENY).then((r) => {
    if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
  });
  await eventually(async () => (await curl(PRODUCTPAGE_UID)).stdout === MARKER, 30_000);
  await eventually(async () => (await curl(RATINGS_UID)).code !== 0, 15_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function curl(uid: number): Promise<ExecResult> {
  return mesh.asUser('a', uid, 'curl', ['-sS', '--max-time', '5', 'http://reviews.default.svc.cluster.local:9080/']);
}

/** The attacker's script on a host, as Redis's admin (or with `credentials`, as the node user they belong to). */
async function attacker(host: string, args: string[], credentials?: { username: string; password: string }): Promise<Record<string, unknown>> {
  const admin = { username: mesh.redisAdmin[1]!, password: mesh.redisAdmin[3]! };
  const { username, password } = credentials ?? admin;
  const r = await mesh.topo.exec(host, process.execPath, [ATTACKER, state, ...args], {
    env: { ...process.env, ATTACKER_REDIS_URL: mesh.redisUrl, ATTACKER_REDIS_USER: username, ATTACKER_REDIS_PASSWORD: password },
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`attacker ${args[0]}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function nodeCredentials(host: string): { username: string; password: string } {
  return JSON.parse(readFileSync(mesh.credentials.node(host), 'utf8')) as { username: string; password: string };
}

async function metric(host: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await mesh.admin(host, '/metrics', 15020), name, labels);
}

/** Each host's count of one refusal now. */
async function refusals(kind: string, reason: string): Promise<Record<string, number>> {
  return { a: await metric('a', REFUSED, { kind, reason }), b: await metric('b', REFUSED, { kind, reason }) };
}

/** Waits until every host counted `more[host]` further refusals of kind/reason than `before`. */
async function counted(kind: string, reason: string, before: Record<string, number>, more: Record<string, number>): Promise<Record<string, number>> {
  let now = before;
  await eventually(async () => {
    now = await refusals(kind, reason);
    return Object.entries(more).every(([host, n]) => now[host]! >= before[host]! + n);
  }, SEEN_MS).catch(() => {
    throw new Error(`${kind}/${reason} refusals: before ${JSON.stringify(before)}, now ${JSON.stringify(now)}, wanted +${JSON.stringify(more)}`);
  });
  return now;
}

/** The last good state still serves: allowed traffic flows, the DENY still denies (several tries, not one lucky one). */
async function stillServing(t: import('ava').ExecutionContext, what: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    t.is((await curl(PRODUCTPAGE_UID)).stdout, MARKER, `${what}: productpage reaches reviews`);
    const denied = await curl(RATINGS_UID);
    t.not(denied.stdout, MARKER, `${what}: ratings is still denied`);
  }
}

/** Waits until both daemons run a snapshot at least as new as `revision` (they accept the store again). */
async function accepted(revision: number): Promise<void> {
  await eventually(async () => (await metric('a', 'ambit_config_revision')) >= revision && (await metric('b', 'ambit_config_revision')) >= revision, SEEN_MS);
}

test.serial('(a) an attacker root in the trust bundle: both daemons and the signer refuse it; its client certificate is refused on 15008', async (t) => {
  const before = await refusals('bundle', 'untrusted-signer');
  const handshakes = await metric('b', 'ambit_tls_handshake_failures_total', { direction: 'inbound' });
  const forged = await attacker('store', ['forge-bundle']);
  t.regex(String(forged.attackerRoot), /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
  // a counts twice: its daemon's certificate manager and the signer it embeds.
  await counted('bundle', 'untrusted-signer', before, { a: 2, b: 1 });
  t.regex(mesh.logs('a'), /refused the trust bundle in the store: not signed by a trusted root; still signing with the trusted one/);
  for (const host of ['a', 'b']) {
    t.regex(mesh.logs(host), /refused the trust bundle in the store: not signed by a trusted root; keeping the trusted one/, host);
    const attackerRoot = readFileSync(join(state, 'ca-cert.pem'), 'utf8').trim();
    t.false(readFileSync(join(mesh.dir, host, 'bundle.pem'), 'utf8').includes(attackerRoot), `${host} did not adopt the attacker root`);
  }

  // A workload certificate for productpage from the attacker's CA, presented to b's 15008 for reviews.
  const b = mesh.topo.host('b').address;
  const hbone = await attacker('store', ['attacker-hbone', `${b}:15008`, `${b}:9080`, PRODUCTPAGE]);
  t.is(hbone.status, undefined, `no answer to the CONNECT: ${JSON.stringify(hbone)}`);
  t.truthy(hbone.error);
  await eventually(async () => (await metric('b', 'ambit_tls_handshake_failures_total', { direction: 'inbound' })) > handshakes, SEEN_MS);
  await stillServing(t, 'forged bundle');

  await attacker('store', ['restore-bundle']);
  await stillServing(t, 'bundle restored');
});

test.serial(
  '(b) an enrollment of productpage on b written without the operator key: refused by both daemons, and the signer issues b no certificate',
  async (t) => {
    const before = await refusals('manifest', 'extra-entry');
    const signerBefore = await metric('a', REFUSED, { kind: 'enrollment', reason: 'extra-entry' });
    const b = mesh.topo.host('b').address;
    const endpoint = { service: 'productpage', namespace: 'default', node: 'b', address: b, port: 9999, serviceAccount: 'productpage', labels: {} };
    await attacker('store', ['forge-enrollment', JSON.stringify(endpoint)]);
    await counted('manifest', 'extra-entry', before, { a: 1, b: 1 });
    for (const host of ['a', 'b']) t.regex(mesh.logs(host), /config snapshot refused: enrollments not in the signed manifest: default\/productpage\/b\//, host);

    // Node b itself (its key, its store user: a compromised b) asks the signer for the forged identity.
    const asked = await attacker('b', ['request-cert', join(mesh.dir, 'b'), PRODUCTPAGE], nodeCredentials('b'));
    t.is(asked.error, 'EIDENTITY_NOT_SIGNED', JSON.stringify(asked));
    t.regex(String(asked.message), /not in the operator-signed manifest/);
    t.true((await metric('a', REFUSED, { kind: 'enrollment', reason: 'extra-entry' })) > signerBefore, 'the signer counted its refusal');
    const certs = (JSON.parse((await mesh.ambit('store', ['certs', '--node', 'b', '-o', 'json'])).stdout) as { items: { spiffeId: string }[] }).items;
    t.false(
      certs.some((c) => c.spiffeId === PRODUCTPAGE),
      'no certificate for productpage was ever issued to b',
    );
    await stillServing(t, 'forged enrollment');

    const dropped = await attacker('store', ['drop-enrollment', 'default', 'productpage', 'b']);
    await accepted(Number(dropped.revision));
    await stillServing(t, 'enrollment dropped');
  },
);

test.serial('(c) the mesh-wide DENY deleted unsigned, then relaxed under an attacker-signed manifest: both daemons refuse, ratings stays denied', async (t) => {
  const missing = await refusals('manifest', 'missing-entry');
  await attacker('store', ['delete-policy', DENY_REF]);
  await counted('manifest', 'missing-entry', missing, { a: 1, b: 1 });
  for (const host of ['a', 'b'])
    t.regex(
      mesh.logs(host),
      /config snapshot refused: security resources in the signed manifest but not in the store: AuthorizationPolicy\/istio-system\/deny-ratings/,
      host,
    );
  await stillServing(t, 'DENY deleted');
  const restored = await attacker('store', ['restore-policy']);
  await accepted(Number(restored.revision));

  const untrusted = await refusals('manifest', 'untrusted-signer');
  const relaxed = await attacker('store', ['relax-policy', DENY_REF, 'cluster.local/ns/default/sa/nobody']);
  t.regex(String(relaxed.operator), /^spiffe:\/\/cluster\.local\/ambit\/operator\//);
  const daemons = await counted('manifest', 'untrusted-signer', untrusted, { a: 1, b: 1 });
  // The signer will not take that manifest either (it reads revocations and enrollments from it): even b's own
  // reviews is refused while it stands, and the refusal lands in the same counter on a, where the signer runs.
  const asked = await attacker('b', ['request-cert', join(mesh.dir, 'b'), REVIEWS], nodeCredentials('b'));
  t.is(asked.error, 'EIDENTITY_MANIFEST_INVALID', JSON.stringify(asked));
  t.regex(String(asked.message), /the security manifest in the store does not verify \(untrusted-signer/);
  t.true((await metric('a', REFUSED, { kind: 'manifest', reason: 'untrusted-signer' })) > daemons.a!, 'the signer counted its refusal');
  await stillServing(t, 'DENY relaxed under a forged manifest');
  const back = await attacker('store', ['restore-policy']);
  await accepted(Number(back.revision));
  await stillServing(t, 'DENY restored');
});
