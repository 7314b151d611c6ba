/**
 * The L4 data plane end to end: three netns hosts (a, b, c) each with ambitd,
 * Redis on a fourth. Unmodified curl, run as an enrolled user on a, reaches a
 * service on b by its mesh name through HBONE; policy, STRICT mode and a Redis
 * outage are exercised against the same mesh.
 */
import test from 'ava';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';

const MARKER = `reviews-says-${Math.random().toString(36).slice(2, 10)}`;
const PRODUCTPAGE_UID = 2001;
const RATINGS_UID = 2002;
const NAME = 'reviews.default.svc.cluster.local';

let mesh: Mesh;
let iptablesBefore = '';

const BIG_BODY = 8192;
/** `/big` answers BIG_BODY bytes, slowly read by a rate-limited client: a connection that spans an outage. */
const httpServer = (address: string, port: number, body: string): string =>
  `require('http').createServer((q, s) => s.end(q.url === '/big' ? 'x'.repeat(${BIG_BODY}) : ${JSON.stringify(body)})).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  iptablesBefore = (await mesh.topo.exec('a', 'iptables-save')).stdout;
  const b = mesh.topo.host('b');
  const service = mesh.topo.spawn('b', process.execPath, ['-e', httpServer(b.address, 9080, MARKER)]);
  await waitForOutput(service, /listening/);
  for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
  const enroll = async (host: string, args: string[]) => {
    const r = await mesh.ambit(host, ['enroll', ...args, '--node', host, '--address', mesh.topo.host(host).address]);
    if (r.code !== 0) throw new Error(`enroll ${args[0]}: ${r.stderr}`);
  };
  await enroll('b', ['reviews', '--port', '9080', '-l', 'version=v1']);
  await enroll('a', ['productpage', '--port', '9080', '--user', String(PRODUCTPAGE_UID)]);
  await enroll('c', ['ratings', '--port', '9080', '--user', String(RATINGS_UID)]);
  // Daemons pick enrollments up from the store; wait until a has certificates and rules.
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).stdout === MARKER, 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function curl(host: string, uid: number, target = `http://${NAME}:9080/`) {
  return mesh.asUser(host, uid, 'curl', ['-sS', '--max-time', '5', target]);
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

test.serial('unmodified curl on a reaches the service on b by name, through both daemons', async (t) => {
  const r = await curl('a', PRODUCTPAGE_UID);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, MARKER);
  const tunnels = JSON.parse(await mesh.admin("a", "/tunnels")) as { totals: { sessionsTotal: number; streamsTotal: number } };
  t.true(tunnels.totals.sessionsTotal >= 1, 'a opened an HBONE session');
  t.true(tunnels.totals.streamsTotal >= 1);
  // `ambit tunnels` reads what each daemon reports to the store, from any host.
  await eventually(async () => /^a\s+cluster\.local\/ns\/default\/sa\/productpage\s+cluster\.local\/ambit\/node\/b\s/m.test((await mesh.ambit('store', ['tunnels'])).stdout), 10_000);
  const metricsB = await mesh.admin('b', '/metrics', 15020);
  t.true(metric(metricsB, 'istio_tcp_connections_opened_total', { reporter: 'destination', source_principal: 'spiffe://cluster.local/ns/default/sa/productpage' }) >= 1, 'b counted the tunnelled connection with the source identity');
});

test.serial('a capture on the wire shows no plaintext', async (t) => {
  const b = mesh.topo.host('b');
  const dump = mesh.topo.spawn('b', 'tcpdump', ['-U', '-n', '-i', b.veth, '-w', '-', 'tcp']);
  const chunks: Buffer[] = [];
  dump.stdout?.on('data', (c: Buffer) => chunks.push(c));
  await waitForOutput(dump, /listening on/, 10_000);
  for (let i = 0; i < 3; i++) t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER);
  await new Promise((r) => setTimeout(r, 500));
  dump.kill('SIGINT');
  await new Promise((r) => dump.once('exit', r));
  const wire = Buffer.concat(chunks);
  t.true(wire.length > 1000, `captured ${wire.length} bytes`);
  t.false(wire.includes(MARKER), 'the response marker must not cross the wire in plaintext');
  t.false(wire.includes('GET / HTTP/1.1'), 'nor the request');
});

test.serial('an AuthorizationPolicy admits only productpage; removing it restores access', async (t) => {
  const policy = [
    'apiVersion: security.istio.io/v1',
    'kind: AuthorizationPolicy',
    'metadata: {name: reviews-viewer, namespace: default}',
    'spec:',
    '  selector: {matchLabels: {version: v1}}',
    '  action: ALLOW',
    '  rules:',
    '  - from:',
    '    - source: {principals: ["cluster.local/ns/default/sa/productpage"]}',
  ].join('\n');
  t.is((await curl('c', RATINGS_UID)).stdout, MARKER, 'ratings reaches reviews before the policy');
  const applied = await mesh.ambit('store', ['apply', '-f', '-'], policy);
  t.is(applied.code, 0, applied.stderr);
  await eventually(async () => (await curl('c', RATINGS_UID)).code !== 0, 10_000);
  t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER, 'productpage is still allowed');
  t.regex(mesh.logs('b'), /connection denied by AuthorizationPolicy/);
  const metricsB = await mesh.admin('b', '/metrics', 15020);
  t.true(metric(metricsB, 'ambit_authz_denials_total', { source_principal: 'spiffe://cluster.local/ns/default/sa/ratings' }) >= 1);
  t.is((await mesh.ambit('store', ['delete', 'authorizationpolicy', 'reviews-viewer'])).code, 0);
  await eventually(async () => (await curl('c', RATINGS_UID)).stdout === MARKER, 10_000);
});

test.serial('STRICT refuses plaintext from outside the mesh; PERMISSIVE lets it in', async (t) => {
  const b = mesh.topo.host('b');
  // root on c is not an enrolled user: its traffic is not captured, so it arrives as plaintext.
  const plain = () => mesh.topo.exec('c', 'curl', ['-sS', '--max-time', '5', `http://${b.address}:9080/`]);
  t.is((await plain()).stdout, MARKER, 'PERMISSIVE (the default) lets plaintext in');
  const strict = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec: {mtls: {mode: STRICT}}\n';
  t.is((await mesh.ambit('store', ['apply', '-f', '-'], strict)).code, 0);
  await eventually(async () => (await plain()).code !== 0, 10_000);
  t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER, 'mesh traffic still flows under STRICT');
  t.is((await mesh.ambit('store', ['delete', 'peerauthentication', 'default'])).code, 0);
  await eventually(async () => (await plain()).stdout === MARKER, 10_000);
});

test.serial('with Redis stopped, existing and new connections keep working; changes after it returns apply', async (t) => {
  // A connection opened before the outage, kept open across it.
  const held = mesh.topo.spawn('a', 'setpriv', [`--reuid=${PRODUCTPAGE_UID}`, `--regid=${PRODUCTPAGE_UID}`, '--clear-groups', 'curl', '-sS', '--max-time', '20', '--limit-rate', '2k', `http://${NAME}:9080/big`]);
  const heldOut: Buffer[] = [];
  held.stdout?.on('data', (c: Buffer) => heldOut.push(c));
  await mesh.stopRedis();
  for (let i = 0; i < 3; i++) t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER, `new request ${i} while Redis is down`);
  const heldCode = await new Promise<number | null>((resolve) => held.once('exit', resolve));
  t.is(heldCode, 0, 'the connection opened before the outage completed');
  t.true(Buffer.concat(heldOut).length >= BIG_BODY, 'and carried its whole body');
  await mesh.startRedis();
  const deny = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-all, namespace: default}\nspec: {action: DENY, rules: [{}]}\n';
  t.is((await mesh.ambit('store', ['apply', '-f', '-'], deny)).code, 0);
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).code !== 0, 15_000);
  t.is((await mesh.ambit('store', ['delete', 'authorizationpolicy', 'deny-all'])).code, 0);
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).stdout === MARKER, 15_000);
});

test.serial('stopping a daemon removes its capture rules exactly', async (t) => {
  await mesh.stopDaemon('a');
  const after = (await mesh.topo.exec('a', 'iptables-save')).stdout;
  const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '').map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]')).join('\n');
  t.is(strip(after), strip(iptablesBefore));
});
