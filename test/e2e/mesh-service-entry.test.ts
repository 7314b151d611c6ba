/**
 * ServiceEntry and WorkloadEntry applied with `ambit apply`, end to end on two
 * netns hosts: an enrolled user's unmodified curl on a reaches, by the entry's
 * host name, an external service (plain TCP from the daemon, at the entry's
 * targetPort), a service at an address the entry gives (captured though it is
 * outside the VIP range), a host resolved by the host resolver (resolution DNS),
 * and a WorkloadEntry on b selected by workloadSelector, which goes over HBONE
 * with the WorkloadEntry's service-account identity.
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';

const UID = 2201;
const tag = Math.random().toString(36).slice(2, 8);
const EXTERNAL = `external-${tag}`;
const LEGACY = `legacy-${tag}`;
const LOCALHOST = `localhost-${tag}`;

let mesh: Mesh;

const httpServer = (address: string, port: number, body: string): string =>
  `require('http').createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  const b = mesh.topo.host('b').address;
  // Neither is enrolled: the external one is outside the mesh, the legacy one is known only by its WorkloadEntry.
  await waitForOutput(mesh.topo.spawn('b', process.execPath, ['-e', httpServer(b, 9300, EXTERNAL)]), /listening/);
  await waitForOutput(mesh.topo.spawn('b', process.execPath, ['-e', httpServer(b, 9400, LEGACY)]), /listening/);
  // Dual-stack, so "localhost" works whichever family the resolver lists first.
  await waitForOutput(mesh.topo.spawn('a', process.execPath, ['-e', httpServer('::', 9500, LOCALHOST)]), /listening/);
  for (const host of ['a', 'b']) await mesh.startDaemon(host);
  const enroll = await mesh.ambit('a', [
    'enroll',
    'productpage',
    '--port',
    '9080',
    '--node',
    'a',
    '--address',
    mesh.topo.host('a').address,
    '--user',
    String(UID),
  ]);
  if (enroll.code !== 0) throw new Error(`enroll: ${enroll.stderr}`);
  const entries = [
    se(
      'ext-api',
      'hosts: [api.external.test]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 9300}]\n  endpoints: [{address: ' +
        b +
        '}]',
    ),
    se(
      'fixed-api',
      'hosts: [fixed.external.test]\n  addresses: [10.254.0.9]\n  location: MESH_EXTERNAL\n  resolution: STATIC\n  ports: [{number: 8080, name: http}]\n  endpoints: [{address: ' +
        b +
        ', ports: {http: 9300}}]',
    ),
    se(
      'dns-api',
      'hosts: [dns.external.test]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 80, name: http, targetPort: 9500}]\n  endpoints: [{address: localhost}]',
    ),
    se(
      'legacy',
      'hosts: [legacy.internal.test]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports: [{number: 80, name: http, targetPort: 9400}]\n  workloadSelector: {labels: {app: legacy}}',
    ),
    `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: legacy-b}\nspec:\n  address: ${b}\n  serviceAccount: legacy\n  labels: {app: legacy}\n`,
  ];
  const applied = await mesh.ambit('store', ['apply', '-f', '-'], entries.join('---\n'));
  if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  await eventually(async () => (await curl('http://api.external.test/')).stdout === EXTERNAL, 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function se(name: string, spec: string): string {
  return `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ${name}}\nspec:\n  ${spec}\n`;
}

function curl(url: string) {
  return mesh.asUser('a', UID, 'curl', ['-sS', '--max-time', '5', url]);
}

test.serial('a STATIC MESH_EXTERNAL entry: its host resolves to an allocated VIP and reaches the endpoint in plain TCP', async (t) => {
  const got = await mesh.ambit('store', ['get', 'serviceentry', 'ext-api', '-o', 'yaml']);
  const vip = /ambit\.dev\/allocated-addresses: api\.external\.test=(240\.240\.\d+\.\d+)/.exec(got.stdout)?.[1];
  t.truthy(vip, got.stdout);
  const dig = await mesh.asUser('a', UID, 'getent', ['hosts', 'api.external.test']);
  t.regex(dig.stdout, new RegExp(`^${vip!.replace(/\./g, '\\.')}\\s`), 'mesh DNS answers the allocated VIP');
  t.is((await curl('http://api.external.test/')).stdout, EXTERNAL);
  const metrics = await mesh.admin('a', '/metrics', 15020);
  t.regex(metrics, /istio_tcp_connections_opened_total\{[^}]*destination_service="api\.external\.test"[^}]*connection_security_policy="none"/);
  // Re-applying the same entry keeps its VIP and changes nothing.
  const again = await mesh.ambit('store', ['apply', '-f', '-'], got.stdout);
  t.regex(again.stdout, /unchanged/);
});

test.serial('given addresses outside the VIP range are captured and routed by port name', async (t) => {
  const r = await curl('http://fixed.external.test:8080/');
  t.is(r.stdout, EXTERNAL, r.stderr);
});

test.serial('resolution DNS: the endpoint host is resolved by the host resolver at connect time', async (t) => {
  const r = await curl('http://dns.external.test/');
  t.is(r.stdout, LOCALHOST, r.stderr);
});

test.serial('a WorkloadEntry selected by a MESH_INTERNAL entry is reached over HBONE as its service account', async (t) => {
  const r = await curl('http://legacy.internal.test/');
  t.is(r.stdout, LEGACY, r.stderr);
  const metrics = await mesh.admin('b', '/metrics', 15020);
  t.regex(
    metrics,
    /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/legacy"/,
  );
  t.regex(metrics, /source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage"/);
});
