/**
 * The store's roles behind Redis Sentinel, with real processes: a master, a replica
 * and a redis-sentinel, each on its own loopback port with its own dir and ACL file.
 * Redis does not replicate ACL users, so what is proven here is that ambit puts them
 * on every server itself: after a failover the operator, the signer and a node all
 * still work against the new master, and a node is still refused an operator's write.
 * Replication and Sentinel authenticate as their own ACL users (as docs/store-roles.md
 * tells an operator to set up), so turning the default user off breaks neither.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials, type StoreCredentials } from '../../core/access/credentials.js';
import { AccessError } from '../../core/access/errors.js';
import { mintNodeToken, tokenCredentials } from '../../core/access/node-token.js';
import { removeNode } from '../../core/access/node-removal.js';
import { initStore } from '../../core/access/store-init.js';
import { initCA } from '../../core/identity/ca-admin.js';
import { loadOperator, operatorDirFor, type Operator } from '../../core/identity/operator.js';
import type { SigningCA } from '../../core/identity/index.js';
import { joinNode } from '../../core/identity/client/index.js';
import { startSigner } from '../../core/identity/signer/index.js';
import { createJoinToken, identityKeys } from '../../core/identity/store/index.js';
import { Store } from '../../core/store/index.js';
import type { StoreOptions } from '../../core/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, startSentinel, type RedisServer, type SentinelServer } from '../helpers/redis.js';

const NAME = 'ambit-test';
const REPLICATION_PASS = 'replication-secret';
const SENTINEL_AUTH_PASS = 'sentinel-auth-secret';
/** The sentinel's own requirepass: what ambit's clients send as sentinelPassword. */
const SENTINEL_PASS = 'sentinel-own-secret';
/** What docs/store-roles.md asks for on every server before `ambit store init`. */
const INFRA_ACL = [
  'user default on nopass ~* &* +@all',
  `user ambit-replication on >${REPLICATION_PASS} +psync +replconf +ping`,
  `user ambit-sentinel on >${SENTINEL_AUTH_PASS} allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill`,
];
const REPLICATION_ARGS = ['--masteruser', 'ambit-replication', '--masterauth', REPLICATION_PASS];

let tmp: string;
let master: RedisServer;
let replica: RedisServer;
let sentinel: SentinelServer;
let ca: SigningCA;
/** The operator key `ca init` made beside the CA dir: tokens and the removal are signed with it. */
let operatorKey: Operator | undefined;
let operatorCredentials: StoreCredentials;
let signerCredentials: StoreCredentials;
let nodeToken: string;

const viaSentinel = (credentials?: StoreCredentials): StoreOptions => ({
  sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
  sentinelName: NAME,
  sentinelPassword: SENTINEL_PASS,
  connectTimeoutMs: 3000,
  ...credentials,
});

/** A direct connection to one server, as the operator, for looking at it alone. */
async function direct<T>(server: RedisServer, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port: server.port, host: '127.0.0.1', ...operatorCredentials, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

const aclUsers = (server: RedisServer): Promise<string[]> => direct(server, async (r) => ((await r.call('ACL', 'USERS')) as string[]).sort());

async function askSentinel<T>(...args: string[]): Promise<T> {
  const s = new Redis({
    port: sentinel.port,
    host: '127.0.0.1',
    password: SENTINEL_PASS,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  s.on('error', () => undefined);
  try {
    await s.connect();
    return (await s.call(args[0]!, ...args.slice(1))) as T;
  } finally {
    s.disconnect();
  }
}

/** INFO replication of one server, as fields; the default user is still on while this is used before init. */
async function replication(server: RedisServer, credentials?: StoreCredentials): Promise<Map<string, string>> {
  const r = new Redis({ port: server.port, host: '127.0.0.1', ...credentials, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const info = await r.info('replication');
    return new Map(info.split(/\r?\n/).map((l) => l.split(':', 2) as [string, string]));
  } finally {
    r.disconnect();
  }
}

/** What a client without credentials gets (ioredis's first command, HELLO, is refused): NOAUTH while the default user is off. */
async function anonymousPing(server: RedisServer): Promise<string> {
  const r = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let first: string | undefined;
  r.on('error', (err: Error) => (first ??= err.message));
  try {
    await r.connect();
    return await r.ping();
  } catch (err) {
    return first ?? (err as Error).message;
  } finally {
    r.disconnect();
  }
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ambit-sentinel-roles-'));
  // A config file on each server: Sentinel's failover rewrites it (CONFIG REWRITE).
  master = await startRedis({ acl: INFRA_ACL, configFile: true, args: REPLICATION_ARGS });
  replica = await startRedis({ acl: INFRA_ACL, configFile: true, args: [...REPLICATION_ARGS, '--replicaof', '127.0.0.1', String(master.port)] });
  await eventually(async () => (await replication(replica)).get('master_link_status') === 'up', 15_000);
  sentinel = await startSentinel({ name: NAME, masterPort: master.port, authUser: 'ambit-sentinel', authPass: SENTINEL_AUTH_PASS, password: SENTINEL_PASS });
  // Sentinel learns the replica from the master's INFO (every 10 s, the first at once).
  await eventually(async () => {
    const replicas = await askSentinel<string[][]>('SENTINEL', 'REPLICAS', NAME);
    return replicas.some((r) => r.includes(String(replica.port)) && !/s_down|disconnected/.test(r.join(' ')));
  }, 20_000);
});
test.after.always(async () => {
  await sentinel?.stop();
  await replica?.stop();
  await master?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test.serial('store init through Sentinel puts the users on the master and on the replica, and turns the default user off on both', async (t) => {
  const admin = await Store.connect(viaSentinel());
  t.teardown(() => admin.close());
  const init = await initStore(admin.redis, { dir: join(tmp, 'store') });
  t.deepEqual(
    init.servers.map((s) => [s.address, s.role, s.persistence]),
    [
      [master.address, 'master', 'aclfile'],
      [replica.address, 'replica', 'aclfile'],
    ],
  );
  operatorCredentials = await readCredentials(init.operator.file);
  signerCredentials = await readCredentials(init.signer.file);
  for (const server of [master, replica]) {
    t.deepEqual(await aclUsers(server), ['ambit-operator', 'ambit-replication', 'ambit-sentinel', 'ambit-signer', 'default'], server.address);
    // Nothing reaches either server without a role now.
    t.regex(await anonymousPing(server), /NOAUTH/, server.address);
  }
  // Replication and Sentinel kept working: they never used the default user. (The operator may not
  // list clients; the administrator's connection, opened before the default user went off, still may.)
  const clients = String(await admin.redis.call('CLIENT', 'LIST'));
  t.regex(clients, /flags=S .*user=ambit-replication/);
  t.regex(clients, /name=sentinel-\w+-cmd .*user=ambit-sentinel/);

  const operator = await Store.connect(viaSentinel(operatorCredentials));
  t.teardown(() => operator.close());
  ({ ca } = await initCA(operator, join(tmp, 'ca'), {}));
  operatorKey = await loadOperator(operatorDirFor(join(tmp, 'ca')));
  const minted = await mintNodeToken(operator, operatorKey, { ttlSeconds: 300, node: 'a' });
  nodeToken = minted.token;
  t.deepEqual(
    minted.servers?.map((s) => s.address),
    [master.address, replica.address],
  );
  t.true((await aclUsers(replica)).includes('ambit-node-a'), 'the node user is on the replica, which Redis would not have copied');
});

test.serial(
  'after SENTINEL FAILOVER the operator, the signer and a node all work against the new master; the node is still refused an operator write',
  async (t) => {
    t.truthy(nodeToken, 'needs the first test');
    await askSentinel('SENTINEL', 'FAILOVER', NAME);
    await eventually(async () => (await askSentinel<string[]>('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME))[1] === String(replica.port), 30_000);
    // The old master now replicates from the new one, as ambit-replication (which only the ACL file gave it).
    await eventually(async () => (await replication(master, operatorCredentials)).get('master_link_status') === 'up', 30_000);
    t.is((await replication(replica, operatorCredentials)).get('role'), 'master');

    const operator = await Store.connect(viaSentinel(operatorCredentials));
    t.teardown(() => operator.close());
    t.regex(await operator.redis.info('server'), new RegExp(`tcp_port:${replica.port}\\b`), 'Sentinel led the operator to the new master');
    const signerStore = await Store.connect(viaSentinel(signerCredentials));
    t.teardown(() => signerStore.close());
    const signer = await startSigner({ store: signerStore, ca });
    t.teardown(() => signer.stop());

    // The node joins through the new master: its user (made before the failover) is there, and so is the signer's.
    const node = await Store.connect(viaSentinel(tokenCredentials(nodeToken, 'ambit:', 'a')));
    t.teardown(() => node.close());
    const identity = await joinNode({ store: node, token: nodeToken, nodeName: 'a', dir: join(tmp, 'a') });
    t.is(identity.spiffeId.uri, 'spiffe://cluster.local/ambit/node/a');
    await node.heartbeatNode({ name: 'a', address: '10.0.0.1' }, 30);
    for (const [what, write] of [
      ['mint a join token', () => createJoinToken(node, { operator: operatorKey!, ttlSeconds: 60, node: 'c' })],
      ['empty the signing queue', () => node.redis.del(identityKeys(node).requests)],
      ["write another node's heartbeat", () => node.heartbeatNode({ name: 'b', address: '10.0.0.9' }, 30)],
    ] as const) {
      const err = await t.throwsAsync(write(), undefined, what);
      t.regex(err?.message ?? '', /NOPERM|no permissions|EXECABORT/i, what);
    }

    // ACL changes now go to the new master first and to the old one, its replica.
    const minted = await mintNodeToken(operator, operatorKey!, { ttlSeconds: 60, node: 'b' });
    t.deepEqual(
      minted.servers?.map((s) => `${s.role} ${s.address}`),
      [`master ${replica.address}`, `replica ${master.address}`],
    );
    t.true((await aclUsers(master)).includes('ambit-node-b'));
    const removed = await removeNode(operator, 'b', operatorKey);
    t.is(removed.user, 'ambit-node-b');
    t.is(removed.servers?.length, 2);
    for (const server of [master, replica]) t.false((await aclUsers(server)).includes('ambit-node-b'), server.address);
  },
);

test.serial('a replica that cannot be reached stops an ACL change before anything changed, and says which', async (t) => {
  t.truthy(operatorCredentials, 'needs the first test');
  await master.kill(); // the old master, a replica since the failover; Sentinel still lists it
  const operator = await Store.connect(viaSentinel(operatorCredentials));
  t.teardown(() => operator.close());
  const tokensBefore = (await operator.scanKeys(identityKeys(operator).tokenPattern)).length;
  const err = await t.throwsAsync(mintNodeToken(operator, operatorKey!, { ttlSeconds: 60, node: 'c' }), { instanceOf: AccessError });
  t.is(err?.code, 'EACCESS_REPLICA_UNREACHABLE');
  t.true(err?.message.includes(master.address), err?.message);
  t.regex(err?.message ?? '', /nothing was changed/);
  t.false((await aclUsers(replica)).includes('ambit-node-c'));
  t.is((await operator.scanKeys(identityKeys(operator).tokenPattern)).length, tokensBefore, 'no token was minted');
});

test('store init will not turn the default user off while a replica replicates as it; kept, the users reach the replica all the same', async (t) => {
  const plainMaster = await startRedis({ acl: ['user default on nopass ~* &* +@all'] });
  t.teardown(() => plainMaster.stop());
  const plainReplica = await startRedis({ acl: ['user default on nopass ~* &* +@all'], args: ['--replicaof', '127.0.0.1', String(plainMaster.port)] });
  t.teardown(() => plainReplica.stop());
  await eventually(async () => (await replication(plainReplica)).get('master_link_status') === 'up', 15_000);
  const admin = await Store.connect({ url: plainMaster.url });
  t.teardown(() => admin.close());

  const err = await t.throwsAsync(initStore(admin.redis, { dir: join(tmp, 'plain') }), { instanceOf: AccessError });
  t.is(err?.code, 'EACCESS_DEFAULT_IN_USE');
  t.regex(err?.message ?? '', /replicates from 127\.0\.0\.1:\d+ as the default user/);
  t.regex(err?.message ?? '', /has no masteruser/);
  t.deepEqual(await admin.redis.call('ACL', 'USERS'), ['default'], 'nothing was created');

  // Without Sentinel the replicas come from the master's INFO replication.
  const kept = await initStore(admin.redis, { dir: join(tmp, 'plain'), keepDefaultUser: true });
  t.deepEqual(
    kept.servers.map((s) => `${s.role} ${s.address}`),
    [`master ${plainMaster.address}`, `replica ${plainReplica.address}`],
  );
  t.is((await replication(plainReplica)).get('master_link_status'), 'up');
  const r = new Redis({ port: plainReplica.port, host: '127.0.0.1', lazyConnect: true });
  t.teardown(() => r.disconnect());
  await r.connect();
  t.deepEqual(((await r.call('ACL', 'USERS')) as string[]).sort(), ['ambit-operator', 'ambit-signer', 'default']);
});
