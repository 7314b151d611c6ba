/**
 * Interop with an HBONE client that shares no code with ours: python3-h2
 * (Debian package, for /usr/bin/python3) speaking CONNECT over mTLS.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { CLIENT_ID, echo, SERVER_ID, startMesh, upstream } from '../helpers/hbone-harness.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../test/fixtures/hbone_connect.py', import.meta.url));

function h2Missing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import h2, ssl'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `${PYTHON} cannot import h2: run \`apt-get install python3-h2\` (and add python3-h2 to the CI package list)`;
  }
}

interface PyResult {
  status: number | null;
  echo: string;
  serverSans: string[];
  error: string | null;
}

async function runPython(t: ExecutionContext, args: string[]): Promise<PyResult> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, ...args], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  t.log(out.trim());
  return JSON.parse(out) as PyResult;
}

async function pemFiles(t: ExecutionContext, files: Record<string, string>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-hbone-interop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) await writeFile((paths[name] = join(dir, name)), text, { mode: 0o600 });
  return paths;
}

test('python3-h2 client with a mesh certificate tunnels through HboneServer', async (t) => {
  const missing = h2Missing();
  if (missing) return t.fail(missing);
  const seen: string[] = [];
  const mesh = await startMesh(t, { server: { authorize: ({ peerIdentity }) => (seen.push(peerIdentity), { allow: true }) } });
  const up = await upstream(t, mesh, echo);
  const id = await mesh.pki.issue(CLIENT_ID);
  const files = await pemFiles(t, { 'cert.pem': String(id.cert), 'key.pem': String(id.key), 'ca.pem': mesh.pki.rootPem });
  const result = await runPython(t, [
    '--port',
    String(mesh.serverPort),
    '--authority',
    up.authority,
    '--ca',
    files['ca.pem']!,
    '--cert',
    files['cert.pem']!,
    '--key',
    files['key.pem']!,
  ]);
  t.is(result.error, null);
  t.is(result.status, 200);
  t.is(result.echo, 'hello from python-h2');
  t.deepEqual(result.serverSans, [SERVER_ID]);
  t.deepEqual(seen, [CLIENT_ID]);
});

test('python3-h2 client gets 400 for a destination that is not a local workload', async (t) => {
  const missing = h2Missing();
  if (missing) return t.fail(missing);
  const mesh = await startMesh(t);
  const id = await mesh.pki.issue(CLIENT_ID);
  const files = await pemFiles(t, { 'cert.pem': String(id.cert), 'key.pem': String(id.key), 'ca.pem': mesh.pki.rootPem });
  const result = await runPython(t, [
    '--port',
    String(mesh.serverPort),
    '--authority',
    '10.9.9.9:80',
    '--ca',
    files['ca.pem']!,
    '--cert',
    files['cert.pem']!,
    '--key',
    files['key.pem']!,
  ]);
  t.is(result.status, 400);
  t.is(result.echo, '');
});

test('python3-h2 client without a certificate is refused', async (t) => {
  const missing = h2Missing();
  if (missing) return t.fail(missing);
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const files = await pemFiles(t, { 'ca.pem': mesh.pki.rootPem });
  const result = await runPython(t, ['--port', String(mesh.serverPort), '--authority', up.authority, '--ca', files['ca.pem']!]);
  t.is(result.status, null);
  t.regex(result.error ?? '', /CERTIFICATE_REQUIRED|certificate required|closed|reset|EOF/i);
  t.is(mesh.server.stats().streamsTotal, 0);
});
