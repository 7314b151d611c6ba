/**
 * A compromised host, tried as an attacker on it would: root on b, holding what
 * b holds (its ambitd's store credentials, even the operator's signing key), runs
 * the real CLI and redis-cli against the real Redis. Every write outside b's own
 * keys is refused by Redis itself, and the mesh is left exactly as it was: the
 * DENY policy still denies, nothing was enrolled, no token was minted.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns-guard.js';
import type { ExecResult } from '../helpers/netns.js';

const CLIENT_UID = 2001;
const MARKER = `roles-${Math.random().toString(36).slice(2, 10)}`;
const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-productpage, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/productpage"]}}]}]
`;
const ALLOW_ALL = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-everything, namespace: istio-system}
spec: {action: ALLOW, rules: [{}]}
`;

let mesh: Mesh;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  await mesh.serveText('b', 9080, MARKER);
  await mesh.startDaemon('a');
  await mesh.startDaemon('b');
  await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'app=reviews']);
  await mesh.enroll('a', ['productpage', '--port', '9080', '--user', String(CLIENT_UID)]);
  await eventually(async () => (await curl()).stdout === MARKER, 30_000);
  writeFileSync(join(mesh.dir, 'deny.yaml'), DENY);
  writeFileSync(join(mesh.dir, 'allow-all.yaml'), ALLOW_ALL);
  const applied = await mesh.ambit('store', ['apply', '-f', join(mesh.dir, 'deny.yaml')]);
  if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  await eventually(async () => (await curl()).stdout !== MARKER, 15_000);
});

test.after.always(async () => {
  await mesh?.destroy();
});

function curl(): Promise<ExecResult> {
  return mesh.asUser('a', CLIENT_UID, 'curl', ['-sS', '--max-time', '5', 'http://reviews.default.svc.cluster.local:9080/']);
}

/** The CLI on b as b's root would run it: b's own store credentials, and (worst case) a stolen operator key. */
function asNodeB(args: string[]): Promise<ExecResult> {
  return mesh.topo.exec('b', process.execPath, [join(REPO_ROOT, 'bin/ambit.js'), ...args], {
    env: {
      ...process.env,
      AMBIT_REDIS_URL: mesh.redisUrl,
      AMBIT_REDIS_CREDENTIALS: mesh.credentials.node('b'),
      AMBIT_OPERATOR_DIR: join(mesh.dir, 'operator'),
    },
    timeoutMs: 30_000,
  });
}

function redisAsNodeB(args: string[]): Promise<ExecResult> {
  const { username, password } = JSON.parse(readFileSync(mesh.credentials.node('b'), 'utf8')) as { username: string; password: string };
  const store = mesh.topo.host('store').address;
  return mesh.topo.exec('b', 'redis-cli', ['-h', store, '-p', '6379', '--user', username, '--pass', password, '--no-auth-warning', ...args]);
}

async function storeFingerprint(): Promise<string> {
  const store = mesh.topo.host('store').address;
  // Not the heartbeats: a's and b's daemons rewrite theirs every few seconds (checked apart below).
  const keys = ['ambit:revision', 'ambit:resources', 'ambit:endpoints', 'ambit:ca:bundle', 'ambit:manifest', 'ambit:waypoint-ready:a', 'ambit:ca:requests'];
  const out: string[] = [];
  for (const k of keys) out.push((await mesh.topo.exec('store', 'redis-cli', ['-h', store, '-p', '6379', ...mesh.redisAdmin, 'dump', k])).stdout);
  const tokens = await mesh.topo.exec('store', 'redis-cli', ['-h', store, '-p', '6379', ...mesh.redisAdmin, '--scan', '--pattern', 'ambit:join-token:*']);
  return out.join('\n') + tokens.stdout.split('\n').sort().join(',');
}

test.serial("with b's credentials, every write outside b's own keys is refused by Redis and changes nothing", async (t) => {
  const before = await storeFingerprint();
  const cli: [string, string[]][] = [
    ['delete the DENY policy', ['delete', 'authorizationpolicy', 'deny-productpage', '-n', 'default']],
    ['apply an ALLOW-everything policy', ['apply', '-f', join(mesh.dir, 'allow-all.yaml')]],
    ['enroll an identity on b', ['enroll', 'evil', '--port', '1', '--node', 'b', '--service-account', 'productpage', '--address', mesh.topo.host('b').address]],
    ['unenroll a service', ['unenroll', 'productpage']],
    ['mint a join token', ['node', 'token', 'create', '--node', 'c9']],
    ['re-initialise the store roles', ['store', 'init', '--force', '--dir', join(mesh.dir, 'stolen')]],
  ];
  for (const [what, args] of cli) {
    const r = await asNodeB(args);
    t.not(r.code, 0, `${what}: ${r.stdout}`);
    t.regex(r.stderr, /NOPERM|no permissions|may not/i, what);
  }
  const raw: [string, string[]][] = [
    ['write the trust bundle', ['hset', 'ambit:ca:bundle', 'bundle', '{}']],
    ["write a's heartbeat", ['set', 'ambit:node:a', '{}']],
    ["say a's waypoints are ready", ['hset', 'ambit:waypoint-ready:a', 'default/x-waypoint/a/1.2.3.4:15009', 'ready']],
    [
      'delete the policy through a script',
      ['eval', "return redis.call('HDEL', KEYS[1], ARGV[1])", '1', 'ambit:resources', 'AuthorizationPolicy/default/deny-productpage'],
    ],
    ['drop the signing queue', ['del', 'ambit:ca:requests']],
    ['create a Redis user', ['acl', 'setuser', 'evil', 'on', '>x', '~*', '+@all']],
  ];
  for (const [what, args] of raw) {
    const r = await redisAsNodeB(args);
    t.regex(r.stdout + r.stderr, /NOPERM/, `${what}: ${r.stdout}${r.stderr}`);
  }
  t.is(await storeFingerprint(), before, 'nothing the attacker tried changed the store');
  const a = await mesh.ambit('store', ['get', 'nodes', '-o', 'json']);
  t.like(
    (JSON.parse(a.stdout) as { items: { name: string }[] }).items.find((n) => n.name === 'a'),
    { name: 'a', address: mesh.topo.host('a').address },
    "a's heartbeat is a's",
  );
  // The policy still holds, and b's daemon still does its own job with the same credentials.
  t.not((await curl()).stdout, MARKER, 'productpage is still denied');
  const nodes = await mesh.ambit('store', ['node', 'list']);
  t.regex(nodes.stdout, /^b\s+\S+\s+\S+\s+\d+s\s+ambit-node-b$/m, nodes.stdout);
});

test.serial('a node name is joined once: the operator cannot mint a second token for b', async (t) => {
  const r = await mesh.ambit('store', ['node', 'token', 'create', '--node', 'b']);
  t.is(r.code, 1);
  t.regex(r.stderr, /node b already joined .*ambit node remove b/);
});
