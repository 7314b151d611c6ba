import test from 'ava';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { joinNode } from '../../core/identity/client/index.js';
import { startSigner } from '../../core/identity/signer/index.js';
import { createJoinToken } from '../../core/identity/store/index.js';
import { loadOperator, operatorDirFor } from '../../core/identity/operator.js';
import { Store } from '../../core/store/index.js';
import { humanSeconds } from '../../cli/duration.js';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { opensslVerify } from './identity-util.js';

const AMBIT = fileURLToPath(new URL('../../../bin/ambit.js', import.meta.url));
let redis: RedisServer;
let tmp: string;
test.before(async () => {
  redis = await startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'ambit-identity-cli-'));
});
test.after.always(async () => {
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** `ambit ca serve` in the background, as an operator would run it; stopped with SIGTERM in teardown. */
async function serve(t: import('ava').ExecutionContext, env: NodeJS.ProcessEnv, args: string[]): Promise<() => Promise<number | null>> {
  const child = spawn(process.execPath, [AMBIT, 'ca', 'serve', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, AMBIT_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    return code;
  };
  t.teardown(stop);
  const deadline = Date.now() + 10_000;
  while (!stderr.includes('signing for')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ca serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return stop;
}

test('ca init → node token create → node join (with ca serve running) → certs table and json', async (t) => {
  // `ca init` makes the operator key beside the CA dir; `node token create` signs with it.
  const env = { AMBIT_REDIS_URL: redis.url, AMBIT_REDIS_KEY_PREFIX: 'cli1:', AMBIT_OPERATOR_DIR: join(tmp, 'operator') };
  const caDir = join(tmp, 'ca');
  const init = await ambit(['ca', 'init', '--ca-dir', caDir], { env });
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /created root CA for trust domain cluster\.local in .*\/ca \(expires /);
  t.regex(init.stdout, /^root fingerprint \(SHA-256\) [0-9A-F]{2}(:[0-9A-F]{2}){31}: join tokens carry it/m);
  t.is((await stat(join(caDir, 'ca-key.pem'))).mode & 0o777, 0o600);
  const again = await ambit(['ca', 'init', '--ca-dir', join(tmp, 'ca-other')], { env });
  t.is(again.code, 1);
  t.regex(again.stderr, /^error: the store already has a trust bundle for cluster\.local .*ambit ca rotate/);
  const bundle = await ambit(['ca', 'bundle'], { env });
  t.is(bundle.stdout, await readFile(join(caDir, 'root-cert.pem'), 'utf8'));

  const stop = await serve(t, env, ['--ca-dir', caDir, '--workload-cert-ttl', '1h']);
  const token = await ambit(['node', 'token', 'create', '--node', 'a', '--ttl', '10m'], { env });
  t.is(token.code, 0, token.stderr);
  t.regex(token.stdout, /^ambit-join-[A-Za-z0-9_-]{43}\.[0-9a-f]{64}\n$/);
  const nodeDir = join(tmp, 'node-a');
  const joined = await ambit(['node', 'join', '--token', token.stdout.trim(), '--node', 'a', '--dir', nodeDir], { env });
  t.is(joined.code, 0, joined.stderr);
  t.regex(joined.stdout, /^joined as spiffe:\/\/cluster\.local\/ambit\/node\/a \(serial [0-9a-f]+, expires /);
  t.deepEqual((await readdir(nodeDir)).sort(), ['bundle.json', 'bundle.pem', 'node-cert.pem', 'node-key.pem']);
  t.true((await opensslVerify(tmp, await readFile(join(caDir, 'root-cert.pem'), 'utf8'), await readFile(join(nodeDir, 'node-cert.pem'), 'utf8'))).ok);

  const reused = await ambit(['node', 'join', '--token', token.stdout.trim(), '--node', 'a', '--dir', join(tmp, 'node-a2')], { env });
  t.is(reused.code, 1);
  t.regex(reused.stderr, /^error: join refused: node a already joined at .*run `ambit node remove a` and create a new token$/m);
  t.is(reused.stderr.trim().split('\n').length, 1);
  // Without --node, join takes this host's node name from ambitd.yaml, as ambitd would.
  await writeFile(join(tmp, 'ambitd.yaml'), 'node:\n  name: a\n');
  const byConfig = await ambit(['node', 'join', '--token', token.stdout.trim(), '--dir', join(tmp, 'node-a3')], {
    env: { ...env, AMBIT_CONFIG: join(tmp, 'ambitd.yaml') },
  });
  t.regex(byConfig.stderr, /^error: join refused: node a already joined/m);
  // A node that joined is one enroll knows, before its ambitd sends a heartbeat.
  const enrolled = await ambit(['enroll', 'productpage', '--port', '9080', '--address', '10.0.0.1', '--node', 'a'], { env });
  t.is(enrolled.code, 0, enrolled.stderr);

  const askedAt = Date.now();
  const table = await ambit(['certs'], { env });
  const answeredAt = Date.now();
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^NODE\s+IDENTITY\s+SERIAL\s+NOT-BEFORE\s+NOT-AFTER\s+REMAINING\s+ROOT$/);
  const row = /^a\s+spiffe:\/\/cluster\.local\/ambit\/node\/a\s+[0-9a-f]+\s+\S+Z\s+(\S+Z)\s+(\S+)\s+[0-9A-F]{2}(:[0-9A-F]{2}){3}$/.exec(lines[1]!);
  t.truthy(row, lines[1]);
  // The remaining life is judged against the NOT-AFTER the command printed and the clock
  // around the call, not a fixed "6d23h": issuance may backdate or round the validity.
  const remainingAt = (ms: number): string => humanSeconds(Math.floor((Date.parse(row![1]!) - ms) / 1000));
  t.true([remainingAt(askedAt), remainingAt(answeredAt)].includes(row![2]!), `REMAINING ${row![2]} for NOT-AFTER ${row![1]}`);
  t.log(table.stdout);
  const { items: json } = JSON.parse((await ambit(['certs', '--node', 'a', '-o', 'json'], { env })).stdout) as {
    items: { spiffeId: string; kind: string; remainingSeconds: number }[];
  };
  t.like(json[0], { spiffeId: 'spiffe://cluster.local/ambit/node/a', kind: 'node' });
  t.true(json[0]!.remainingSeconds > 6 * 86400);
  t.deepEqual(JSON.parse((await ambit(['certs', '--node', 'b', '-o', 'json'], { env })).stdout), { apiVersion: 'v1', kind: 'List', items: [] });

  t.is(await stop(), 0, 'ca serve exits cleanly on SIGTERM');
  const noSigner = await ambit(
    [
      'node',
      'join',
      '--token',
      (await ambit(['node', 'token', 'create', '--node', 'b'], { env })).stdout.trim(),
      '--node',
      'b',
      '--dir',
      join(tmp, 'node-b'),
      '--timeout',
      '1s',
    ],
    { env },
  );
  t.is(noSigner.code, 1);
  t.is(noSigner.stderr, 'error: no signer answered within 1s: is `ambit ca serve` or `ambitd --ca` running?\n');
});

test('plug-in CA: ca init --root-cert/--root-key makes an intermediate under an openssl-made root; leaves verify to that root', async (t) => {
  const rootKey = join(tmp, 'corp-root.key');
  const rootCert = join(tmp, 'corp-root.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    rootKey,
    '-out',
    rootCert,
    '-subj',
    '/O=corp/CN=corp root',
    '-days',
    '3650',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const env = { AMBIT_REDIS_URL: redis.url, AMBIT_REDIS_KEY_PREFIX: 'cli2:' };
  // Its own parent: the operator key goes beside the CA dir, and the first test's is tmp/operator.
  const caDir = join(tmp, 'plugin', 'ca-plugin');
  const init = await ambit(['ca', 'init', '--ca-dir', caDir, '--root-cert', rootCert, '--root-key', rootKey, '--trust-domain', 'corp.example'], { env });
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /created intermediate CA under O=corp, CN=corp root for trust domain corp\.example/);
  t.is(await readFile(join(caDir, 'root-cert.pem'), 'utf8'), await readFile(rootCert, 'utf8'));
  t.deepEqual((await readdir(caDir)).sort(), ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem'], 'the root key is not copied');

  const store = await Store.connect({ url: redis.url, keyPrefix: 'cli2:' });
  const signer = await startSigner({ store, caDir });
  t.teardown(async () => {
    await signer.stop();
    await store.close();
  });
  const operator = await loadOperator(operatorDirFor(caDir));
  const { token } = await createJoinToken(store, { operator, ttlSeconds: 60, node: 'edge-1' });
  const node = await joinNode({ store, token, nodeName: 'edge-1', dir: join(tmp, 'node-edge') });
  t.is(node.spiffeId.uri, 'spiffe://corp.example/ambit/node/edge-1');
  const verified = await opensslVerify(tmp, await readFile(rootCert, 'utf8'), node.chainPem);
  t.true(verified.ok, verified.output);
});
