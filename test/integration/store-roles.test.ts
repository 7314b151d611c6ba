/**
 * The store's roles, enforced by a real Redis 7 with ACL users: what a host
 * holding only its node credentials can and cannot do. Every refused write must
 * leave the store exactly as it was.
 */
import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials } from '../../core/access/credentials.js';
import { mintNodeToken, tokenCredentials } from '../../core/access/node-token.js';
import { removeNode } from '../../core/access/node-removal.js';
import { initStore } from '../../core/access/store-init.js';
import { initCA } from '../../core/identity/ca-admin.js';
import { createBundle } from '../../core/identity/bundle.js';
import { signedEnroll } from '../../core/identity/manifest/writer.js';
import { loadOperator, operatorDirFor } from '../../core/identity/operator.js';
import { joinNode, requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { startSigner } from '../../core/identity/signer/index.js';
import { consumeJoinToken, createJoinToken, identityKeys, publishBundle, readBundle } from '../../core/identity/store/index.js';
import { Store } from '../../core/store/index.js';
import type { StoreOptions } from '../../core/store/types.js';
import { StoreBuckets } from '../../waypoint/ratelimit/buckets.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code } from './identity-util.js';

let redis: RedisServer;
let tmp: string;
/** Node a's credentials, from the first test, for the removal test. */
let nodeA: StoreOptions | undefined;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ambit-roles-'));
  const aclfile = join(tmp, 'users.acl');
  await writeFile(aclfile, '');
  redis = await startRedis({ args: ['--aclfile', aclfile] });
});
test.after.always(async () => {
  await redis?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const wl = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;
const policy = {
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'deny-all', namespace: 'istio-system' },
  spec: { action: 'DENY', rules: [{}] },
};

/** Everything a snapshot or the identity layer reads, to prove a refused write changed nothing. */
async function storeState(store: Store): Promise<string> {
  const keys = (await store.scanKeys('ambit:*')).filter((k) => !/ca:nonce:|ca:response:/.test(k)).sort();
  const dump: string[] = [];
  for (const k of keys) dump.push(`${k} ${String(await store.redis.type(k))} ${JSON.stringify(await store.redis.dump(k))}`);
  return dump.join('\n');
}

test.serial('a node with its own credentials writes only its own keys; every other write is NOPERM and changes nothing', async (t) => {
  const admin = await Store.connect({ url: redis.url });
  const init = await initStore(admin.redis, { dir: join(tmp, 'store') });
  await admin.close();
  t.is(init.persistence, 'aclfile');
  t.is((await stat(init.operator.file)).mode & 0o777, 0o600);
  // The passwordless default user is off: nothing reaches the mesh without a role.
  const anonymous = await t.throwsAsync(Store.connect({ url: redis.url }));
  t.regex(anonymous.message, /rejected the credentials|NOAUTH|WRONGPASS|disabled/i);

  const as = async (credentials: StoreOptions) => Store.connect({ url: redis.url, ...credentials });
  const operator = await as(await readCredentials(init.operator.file));
  const signerStore = await as(await readCredentials(init.signer.file));
  t.teardown(async () => {
    await operator.close();
    await signerStore.close();
  });
  const { ca } = await initCA(operator, join(tmp, 'ca'), {});
  const operatorKey = await loadOperator(operatorDirFor(join(tmp, 'ca')));
  const signer = await startSigner({ store: signerStore, ca });
  t.teardown(() => signer.stop());

  const minted = await mintNodeToken(operator, operatorKey, { ttlSeconds: 60, node: 'a' });
  t.is(minted.user, 'ambit-node-a');
  const nodeCredentials = tokenCredentials(minted.token, 'ambit:', 'a');
  t.truthy(nodeCredentials);
  nodeA = nodeCredentials;
  const node = await as(nodeCredentials!);
  t.teardown(() => node.close());
  const identity = await joinNode({ store: node, token: minted.token, nodeName: 'a', dir: join(tmp, 'a') });
  t.is(identity.spiffeId.uri, 'spiffe://cluster.local/ambit/node/a');

  await signedEnroll(operator, operatorKey, {
    service: 'productpage',
    namespace: 'default',
    node: 'a',
    address: '10.0.0.1',
    port: 9080,
    serviceAccount: 'productpage',
    labels: {},
  });
  await signedEnroll(operator, operatorKey, {
    service: 'reviews',
    namespace: 'default',
    node: 'b',
    address: '10.0.0.2',
    port: 9080,
    serviceAccount: 'reviews',
    labels: {},
  });
  // Its own keys: heartbeat and status report.
  await node.heartbeatNode({ name: 'a', address: '10.0.0.1' }, 30);
  await node.publishNodeStatus('a', { version: 1, node: 'a', generatedAt: new Date().toISOString(), tunnels: [], waypoints: [] } as never, 30);
  // Reading the mesh works.
  t.is((await node.listEndpoints()).length, 2);
  t.truthy(await readBundle(node));

  const before = await storeState(operator);
  const revision = await operator.revision();
  const keys = identityKeys(node);
  const rogue = { ...(await readBundle(operator))!.bundle, roots: [] };
  const refused: [string, () => Promise<unknown>][] = [
    // Signed by the mesh's own CA even: the node's user may not write the key at all.
    ['write the trust bundle', () => publishBundle(node, rogue, ca)],
    ['apply an AuthorizationPolicy', () => node.apply([policy])],
    ['delete a policy', () => node.delete([{ kind: 'AuthorizationPolicy', namespace: 'istio-system', name: 'deny-all' }])],
    [
      'enroll a service',
      () => node.enroll({ service: 'evil', namespace: 'default', node: 'a', address: '10.0.0.1', port: 1, serviceAccount: 'reviews', labels: {} }),
    ],
    ['unenroll a service', () => node.unenroll('default', 'reviews')],
    ['mint a join token', () => createJoinToken(node, { operator: operatorKey, ttlSeconds: 60, node: 'c' })],
    ['call the token-consuming script', () => consumeJoinToken(node, 'ambit-join-x', 'a', createBundle('cluster.local', [ca.root.pem]))],
    ["write another node's heartbeat", () => node.heartbeatNode({ name: 'b', address: '10.0.0.9' }, 30)],
    ["write another node's status", () => node.redis.set(node.keys.nodeStatus('b'), '{}')],
    ["pop another node's signing answer", () => node.redis.lpop(keys.response('b', 'abcdefgh'))],
    ['empty the signing queue', () => node.redis.del(keys.requests)],
    ['pop the signing queue', () => node.redis.lpop(keys.requests)],
    ['publish a change notification', () => node.redis.publish(node.keys.channel, '{"revision":99}')],
    ['publish a bundle notification', () => node.redis.publish(keys.bundleChannel, '{"revision":99}')],
    ['create a Redis user', () => node.redis.call('ACL', 'SETUSER', 'evil', 'on', '>x', '~*', '+@all')],
    ['flush the database', () => node.redis.flushdb()],
    ['set the mesh settings', () => node.setMeshSettings({ vipCidr: '240.240.0.0/12' })],
    // The rate-limit selector allows scripts on the rate-limit keys only, and inside them only those keys.
    ['run a script on a mesh key', () => node.redis.eval("return redis.call('SET', KEYS[1], 'x')", 1, node.keys.revision)],
    [
      'reach a mesh key from a script declared on a rate-limit key',
      () => node.redis.eval("return redis.call('SET', ARGV[1], 'x')", 1, `${node.keys.rateLimitPrefix}x`, node.keys.revision),
    ],
  ];
  for (const [what, write] of refused) {
    const err = await t.throwsAsync(write(), undefined, what);
    // A refused command inside MULTI aborts the whole transaction (EXECABORT): nothing of it runs;
    // a script's refused call says the user "can't access" the key.
    t.regex(err?.message ?? '', /NOPERM|no permissions|EXECABORT|can't access at least one of the keys/i, what);
  }
  t.is(await operator.revision(), revision);
  t.is(await storeState(operator), before, 'no refused write changed anything');

  // What the selector is for: a waypoint on node a takes tokens from a shared global bucket.
  const bucket = await new StoreBuckets(node.redis, node.keys.rateLimitPrefix, 2000).take('default/limit/rule', 1, 0.001);
  t.true(bucket.allowed);
  t.false((await new StoreBuckets(node.redis, node.keys.rateLimitPrefix, 2000).take('default/limit/rule', 1, 0.001)).allowed);

  // A workload identity enrolled only on node b is refused to node a by the signer.
  const client = new SignerClient(node, 'a', 5000);
  t.teardown(() => client.close());
  t.is((await requestWorkloadCert(client, identity, wl('productpage'))).spiffeId, wl('productpage'));
  t.is(code(await t.throwsAsync(requestWorkloadCert(client, identity, wl('reviews')))), 'EIDENTITY_NOT_ENROLLED');

  // A second join for the same name is refused: the operator may not mint a token for it (that would also
  // reset the running node's password), and the signer refuses a join for it whatever token it brings.
  t.is(code(await t.throwsAsync(mintNodeToken(operator, operatorKey, { ttlSeconds: 60, node: 'a' }))), 'EIDENTITY_NODE_EXISTS');
  const raw = await createJoinToken(operator, { operator: operatorKey, ttlSeconds: 60, node: 'a' });
  t.is(code(await t.throwsAsync(joinNode({ store: node, token: raw.token, nodeName: 'a', dir: join(tmp, 'a2') }))), 'EIDENTITY_NODE_EXISTS');
  // Node a's store user still works.
  await node.heartbeatNode({ name: 'a', address: '10.0.0.1' }, 30);

  // The users survive a Redis restart (they were saved to the aclfile).
  await redis.restart();
  const after = await as(await readCredentials(init.operator.file));
  t.is((await after.listEndpoints()).length, 2);
  await after.close();
});

test.serial('ambit node remove: the node user is gone, its endpoints unenrolled, its name free for a new token only', async (t) => {
  const operator = await Store.connect({ url: redis.url, ...(await readCredentials(join(tmp, 'store', 'operator.json'))) });
  t.teardown(() => operator.close());
  const removed = await removeNode(operator, 'a', await loadOperator(operatorDirFor(join(tmp, 'ca'))));
  t.is(removed.user, 'ambit-node-a');
  t.true(removed.joined);
  t.is(removed.endpoints, 1);
  t.true(removed.serials.length >= 1);
  t.true((removed.revokedAt ?? 0) > 0, 'its name and serials are on the signed revocation list');
  t.deepEqual(
    (await operator.listEndpoints()).map((e) => e.node),
    ['b'],
  );
  // Its credentials no longer open the store.
  const stale = await t.throwsAsync(Store.connect({ url: redis.url, ...nodeA }));
  t.regex(stale.message, /rejected the credentials/);
});
