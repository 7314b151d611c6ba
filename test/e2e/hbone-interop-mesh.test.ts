/**
 * A running ambitd speaks HBONE to a client that shares no code with ours:
 * python3-h2 on host a (as root, so not captured) opens a CONNECT stream to b's
 * 15008 with a certificate issued from the mesh's own CA files, and reaches the
 * service enrolled on b. The same client with a foreign CA's certificate, with
 * no certificate, and a plaintext HTTP/2 client are refused before any stream
 * opens. Also here: a service endpoint that refuses connections is ejected
 * while every connection to the VIP still succeeds.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { caDirFiles } from '../../core/identity/ca-dir.js';
import { createCsr, exportPrivateKeyPem, generateKeyPair, issueCertificate, loadCAFiles, verifyCsr } from '../../core/identity/index.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { makeTestCa } from '../helpers/test-pki.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../test/fixtures/hbone_connect.py', import.meta.url));
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';
const PRODUCTPAGE_UID = 2101;
const MARKER = `web-says-${Math.random().toString(36).slice(2, 10)}`;

let mesh: Mesh;

interface PyResult {
  status: number | null;
  echo: string;
  serverSans: string[];
  error: string | null;
}

function h2Missing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import h2, ssl'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `${PYTHON} cannot import h2: apt-get install python3-h2`;
  }
}

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  const b = mesh.topo.host('b');
  const echo = mesh.topo.spawn('b', process.execPath, [
    '-e',
    `require('net').createServer((s) => s.pipe(s)).listen(9090, ${JSON.stringify(b.address)}, () => console.log('listening'))`,
  ]);
  await waitForOutput(echo, /listening/);
  const web = mesh.topo.spawn('b', process.execPath, [
    '-e',
    `require('http').createServer((q, s) => s.end(${JSON.stringify(MARKER)})).listen(9080, ${JSON.stringify(b.address)}, () => console.log('listening'))`,
  ]);
  await waitForOutput(web, /listening/);
  for (const host of ['a', 'b']) await mesh.startDaemon(host);
  const enroll = async (host: string, args: string[]) => {
    const r = await mesh.ambit(host, ['enroll', ...args, '--node', host]);
    if (r.code !== 0) throw new Error(`enroll ${args.join(' ')}: ${r.stderr}`);
  };
  await enroll('b', ['echo', '--port', '9090', '--address', b.address]);
  await enroll('b', ['web', '--port', '9080', '--address', b.address]);
  // A second endpoint of web that refuses every connection: nothing listens on b's 127.0.0.2:9080.
  await enroll('b', ['web', '--port', '9080', '--address', '127.0.0.2']);
  await enroll('a', ['productpage', '--port', '9080', '--address', mesh.topo.host('a').address, '--user', String(PRODUCTPAGE_UID)]);
  await eventually(async () => (await curlWeb()).stdout === MARKER, 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function curlWeb() {
  return mesh.asUser('a', PRODUCTPAGE_UID, 'curl', ['-sS', '--max-time', '5', 'http://web.default.svc.cluster.local:9080/']);
}

/** Key and certificate for `spiffeId`, signed by the CA `ambit ca init` wrote for this mesh. */
async function meshIssued(spiffeId: string): Promise<{ key: string; cert: string }> {
  const ca = await loadCAFiles(caDirFiles(join(mesh.dir, 'ca')));
  const keys = await generateKeyPair();
  const verified = await verifyCsr(await createCsr(spiffeId, keys), { trustDomain: 'cluster.local' });
  const issued = await issueCertificate(ca, verified, { ttlSeconds: 600 });
  return { key: await exportPrivateKeyPem(keys.privateKey), cert: issued.chainPem };
}

function pem(name: string, text: string): string {
  const path = join(mesh.dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

async function python(args: string[]): Promise<PyResult> {
  const b = mesh.topo.host('b');
  const root = caDirFiles(join(mesh.dir, 'ca')).rootFile;
  const r = await mesh.topo.exec('a', PYTHON, [SCRIPT, '--host', b.address, '--port', '15008', '--authority', `${b.address}:9090`, '--ca', root, ...args], {
    timeoutMs: 20_000,
  });
  if (r.code !== 0) throw new Error(`python client: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

interface InboundStats {
  inbound: { streamsTotal: number; handshakeFailures: number };
}

async function inboundB(): Promise<InboundStats['inbound']> {
  return (JSON.parse(await mesh.admin('b', '/tunnels')) as InboundStats).inbound;
}

test.serial('python3-h2 with a mesh-issued certificate reaches the service enrolled on b', async (t) => {
  const missing = h2Missing();
  if (missing) return t.fail(missing);
  const id = await meshIssued(PRODUCTPAGE);
  const result = await python(['--cert', pem('pp-cert.pem', id.cert), '--key', pem('pp-key.pem', id.key)]);
  t.is(result.error, null);
  t.is(result.status, 200);
  t.is(result.echo, 'hello from python-h2');
  t.deepEqual(result.serverSans, ['spiffe://cluster.local/ambit/node/b'], 'b presents its node identity');
  const metrics = await mesh.admin('b', '/metrics', 15020);
  t.regex(metrics, new RegExp(`istio_tcp_connections_opened_total\\{[^}]*source_principal="${PRODUCTPAGE}"`), 'b saw the verified identity');
});

test.serial('a certificate from another CA, no certificate, and plaintext are refused before any stream', async (t) => {
  const missing = h2Missing();
  if (missing) return t.fail(missing);
  const before = await inboundB();
  const foreign = await (await makeTestCa()).issue(PRODUCTPAGE);
  const other = await python(['--cert', pem('foreign-cert.pem', String(foreign.cert)), '--key', pem('foreign-key.pem', String(foreign.key))]);
  t.is(other.status, null, `foreign CA: ${JSON.stringify(other)}`);
  t.log(`foreign CA: ${other.error}`);
  t.regex(other.error ?? '', /unknown ca|certificate|alert|closed|reset|EOF/i);
  const none = await python([]);
  t.is(none.status, null, `no certificate: ${JSON.stringify(none)}`);
  t.regex(none.error ?? '', /CERTIFICATE_REQUIRED|certificate required|closed|reset|EOF/i);
  // HTTP/2 with prior knowledge, no TLS: the server only speaks TLS on 15008.
  const b = mesh.topo.host('b');
  const plain = await mesh.topo.exec('a', 'curl', [
    '-sS',
    '--max-time',
    '5',
    '--http2-prior-knowledge',
    '-p',
    '-x',
    `http://${b.address}:15008`,
    `http://${b.address}:9090/`,
  ]);
  t.log(`plaintext: curl exit ${plain.code}: ${plain.stderr.trim()}`);
  t.not(plain.code, 0, 'plaintext CONNECT must fail');
  t.false(plain.stdout.includes('hello'));
  const after = await inboundB();
  t.is(after.streamsTotal, before.streamsTotal, 'no refused client opened a stream');
  t.true(after.handshakeFailures >= before.handshakeFailures + 2, `handshake failures ${before.handshakeFailures} -> ${after.handshakeFailures}`);
});

test.serial('an endpoint that refuses connections is ejected; every connection to the VIP still succeeds', async (t) => {
  for (let i = 0; i < 8; i++) {
    const r = await curlWeb();
    t.is(r.stdout, MARKER, `request ${i}: ${r.stderr}`);
  }
  const tunnels = JSON.parse(await mesh.admin('a', '/tunnels')) as { ejected: { endpoint: string; failures: number }[] };
  t.deepEqual(
    tunnels.ejected.map((e) => e.endpoint),
    ['127.0.0.2:9080'],
  );
  t.true(tunnels.ejected[0]!.failures >= 1);
  t.regex(mesh.logs('a'), /endpoint refused; trying another/);
});
