/**
 * The L4 data plane end to end: three netns hosts (a, b, c) each with ambitd,
 * Redis on a fourth. Unmodified curl, run as an enrolled user on a, reaches a
 * service on b by its mesh name through HBONE; policy, STRICT mode and a Redis
 * outage are exercised against the same mesh.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { metricSum as metric } from '../helpers/prometheus-text.js';
import { REPO_ROOT } from '../helpers/cli.js';

const MARKER = `reviews-says-${Math.random().toString(36).slice(2, 10)}`;
const PRODUCTPAGE_UID = 2001;
const RATINGS_UID = 2002;
const NAME = 'reviews.default.svc.cluster.local';

let mesh: Mesh;
let iptablesBefore = '';

const httpServer = (address: string, port: number, body: string): string =>
  `require('http').createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;
const echoServer = (address: string, port: number): string =>
  `require('net').createServer((s) => s.pipe(s)).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;
/** One TCP connection to the echo service by name, kept open; each stdin line goes through it. */
const ECHO_CLIENT = `const s = require('net').connect(9090, 'echo.default.svc.cluster.local');
s.setEncoding('utf8'); s.on('data', (d) => d.split('\\n').filter(Boolean).forEach((l) => console.log('echo:' + l)));
require('readline').createInterface({ input: process.stdin }).on('line', (l) => s.write(l + '\\n')).on('close', () => s.end());`;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  iptablesBefore = (await mesh.topo.exec('a', 'iptables-save')).stdout;
  const b = mesh.topo.host('b');
  const service = mesh.topo.spawn('b', process.execPath, ['-e', httpServer(b.address, 9080, MARKER)]);
  await waitForOutput(service, /listening/);
  const echo = mesh.topo.spawn('b', process.execPath, ['-e', echoServer(b.address, 9090)]);
  await waitForOutput(echo, /listening/);
  for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
  await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'version=v1']);
  await mesh.enroll('b', ['echo', '--port', '9090']);
  await mesh.enroll('a', ['productpage', '--port', '9080', '--user', String(PRODUCTPAGE_UID)]);
  await mesh.enroll('c', ['ratings', '--port', '9080', '--user', String(RATINGS_UID)]);
  // Daemons pick enrollments up from the store; wait until a has certificates and rules.
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).stdout === MARKER, 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function curl(host: string, uid: number, target = `http://${NAME}:9080/`) {
  return mesh.asUser(host, uid, 'curl', ['-sS', '--max-time', '5', target]);
}

test.serial('unmodified curl on a reaches the service on b by name, through both daemons', async (t) => {
  const r = await curl('a', PRODUCTPAGE_UID);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, MARKER);
  const tunnels = JSON.parse(await mesh.admin('a', '/tunnels')) as { totals: { sessionsTotal: number; streamsTotal: number } };
  t.true(tunnels.totals.sessionsTotal >= 1, 'a opened an HBONE session');
  t.true(tunnels.totals.streamsTotal >= 1);
  // `ambit tunnels` reads what each daemon reports to the store, from any host.
  await eventually(
    async () => /^a\s+cluster\.local\/ns\/default\/sa\/productpage\s+cluster\.local\/ambit\/node\/b\s/m.test((await mesh.ambit('store', ['tunnels'])).stdout),
    10_000,
  );
  t.log((await mesh.ambit('store', ['tunnels'])).stdout);
  // Istio's labels for this edge, on both ends: a reports it as source, b as destination.
  const edge = {
    source_workload: 'productpage',
    source_workload_namespace: 'default',
    source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
    source_canonical_service: 'productpage',
    source_canonical_revision: 'latest',
    destination_workload: 'reviews-v1',
    destination_workload_namespace: 'default',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
    destination_version: 'v1',
    destination_service: NAME,
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    request_protocol: 'tcp',
    response_flags: '-',
    connection_security_policy: 'mutual_tls',
  };
  for (const [host, reporter] of [
    ['a', 'source'],
    ['b', 'destination'],
  ] as const) {
    const labels = { ...edge, reporter };
    // Every curl has exited, so every connection it opened has closed (the close is counted once its tunnel stream ends).
    await eventually(async () => {
      const text = await mesh.admin(host, '/metrics', 15020);
      return metric(text, 'istio_tcp_connections_opened_total', labels) === metric(text, 'istio_tcp_connections_closed_total', labels);
    }, 5000);
    const text = await mesh.admin(host, '/metrics', 15020);
    t.true(metric(text, 'istio_tcp_connections_opened_total', labels) >= 1, `${host} counted the connection as ${reporter}, with every label of the edge`);
    t.true(metric(text, 'istio_tcp_sent_bytes_total', labels) > 0, `${host} counted its bytes on the same series`);
  }
});

test.serial('a capture on the wire shows no plaintext', async (t) => {
  const b = mesh.topo.host('b');
  const file = join(mesh.dir, 'wire.pcap');
  const dump = mesh.topo.spawn('b', 'tcpdump', ['--immediate-mode', '-U', '-n', '-i', b.veth, '-w', file, 'tcp']);
  await waitForOutput(dump, /listening on/, 10_000);
  for (let i = 0; i < 3; i++) t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER);
  await new Promise((r) => setTimeout(r, 500));
  const closed = new Promise((r) => dump.once('close', r));
  dump.kill('SIGINT');
  await closed;
  const wire = readFileSync(file);
  t.true(wire.length > 1000, `captured ${wire.length} bytes`);
  t.false(wire.includes(MARKER), 'the response marker must not cross the wire in plaintext');
  t.false(wire.includes('GET / HTTP/1.1'), 'nor the request');
  // What did cross: TLS application-data records (content type 23, TLS 1.2 framing as TLS 1.3 sends it).
  t.true(wire.includes(Buffer.from([0x17, 0x03, 0x03])), 'TLS records are on the wire');
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
  // A connection opened before the outage and used again during it: each stdin line is echoed by b.
  const client = mesh.topo.spawn(
    'a',
    'setpriv',
    [`--reuid=${PRODUCTPAGE_UID}`, `--regid=${PRODUCTPAGE_UID}`, '--clear-groups', process.execPath, '-e', ECHO_CLIENT],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  client.stdin?.write('before\n');
  await waitForOutput(client, /echo:before/, 10_000);
  await mesh.stopRedis();
  client.stdin?.write('during\n');
  await waitForOutput(client, /echo:during/, 10_000);
  for (let i = 0; i < 3; i++) t.is((await curl('a', PRODUCTPAGE_UID)).stdout, MARKER, `new request ${i} while Redis is down`);
  await mesh.startRedis();
  client.stdin?.write('after\n');
  await waitForOutput(client, /echo:after/, 10_000);
  client.stdin?.end();
  const deny =
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-all, namespace: default}\nspec: {action: DENY, rules: [{}]}\n';
  t.is((await mesh.ambit('store', ['apply', '-f', '-'], deny)).code, 0);
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).code !== 0, 15_000);
  t.is((await mesh.ambit('store', ['delete', 'authorizationpolicy', 'deny-all'])).code, 0);
  await eventually(async () => (await curl('a', PRODUCTPAGE_UID)).stdout === MARKER, 15_000);
});

test.serial('a stopped daemon leaves its rules (fail closed); remove.sh, as ambit uninstall runs it, restores iptables exactly', async (t) => {
  await mesh.stopDaemon('a');
  t.regex((await mesh.topo.exec('a', 'iptables-save')).stdout, new RegExp(`-A AMBIT_OUTPUT .*--uid-owner ${PRODUCTPAGE_UID} .*-j REDIRECT`));
  const removed = await mesh.topo.exec('a', 'bash', [join(REPO_ROOT, 'scripts/iptables/remove.sh')]);
  t.is(removed.code, 0, removed.stderr);
  const after = (await mesh.topo.exec('a', 'iptables-save')).stdout;
  const strip = (s: string) =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('#') && l.trim() !== '')
      .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
      .join('\n');
  t.is(strip(after), strip(iptablesBefore));
});
