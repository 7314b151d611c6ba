/**
 * The store's roles over TLS, with real processes: a redis-server that serves TLS
 * only (no plaintext port) with a certificate from a throwaway CA, and a TLS replica
 * of it. `ambit store init` runs over rediss:// as the CLI would (the CA from
 * AMBIT_REDIS_TLS_CA), reaches the replica over TLS too, and a node's user is refused
 * every write outside its own keys.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials } from '../../core/access/credentials.js';
import { mintNodeToken, tokenCredentials } from '../../core/access/node-token.js';
import { initCA } from '../../core/identity/ca-admin.js';
import { loadOperator, operatorDirFor } from '../../core/identity/operator.js';
import { initStore } from '../../core/access/store-init.js';
import { StoreError } from '../../core/errors.js';
import { createJoinToken, identityKeys } from '../../core/identity/store/index.js';
import { storeOptionsFromEnv } from '../../core/store/env-options.js';
import { Store } from '../../core/store/index.js';
import type { StoreOptions } from '../../core/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { makeRedisTls } from '../helpers/redis-tls.js';
import { startRedis, type RedisServer, type RedisTlsFiles } from '../helpers/redis.js';

const REPLICATION_PASS = 'replication-secret';
const ACL = ['user default on nopass ~* &* +@all', `user ambit-replication on >${REPLICATION_PASS} +psync +replconf +ping`];
const REPLICATION_ARGS = ['--masteruser', 'ambit-replication', '--masterauth', REPLICATION_PASS];

let tmp: string;
let tls: RedisTlsFiles;
let master: RedisServer;
let replica: RedisServer;

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ambit-tls-roles-'));
  tls = makeRedisTls(tmp);
  master = await startRedis({ tls, acl: ACL, args: REPLICATION_ARGS });
  replica = await startRedis({ tls, acl: ACL, args: [...REPLICATION_ARGS, '--tls-replication', 'yes', '--replicaof', '127.0.0.1', String(master.port)] });
  const admin = await Store.connect(storeOptionsFromEnv(master.url, { AMBIT_REDIS_TLS_CA: tls.ca }));
  try {
    await eventually(async () => (await admin.redis.info('replication')).includes(`port=${replica.port},state=online`), 15_000);
  } finally {
    await admin.close();
  }
});
test.after.always(async () => {
  await replica?.stop();
  await master?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('store init over rediss:// sets the users on the master and its TLS replica; a node user is NOPERM outside its own keys', async (t) => {
  // The CLI's own way in: rediss:// and AMBIT_REDIS_TLS_CA.
  const options = (credentials?: object): StoreOptions => ({ ...storeOptionsFromEnv(master.url, { AMBIT_REDIS_TLS_CA: tls.ca }), ...credentials });
  const admin = await Store.connect(options());
  const init = await initStore(admin.redis, { dir: join(tmp, 'store') }).finally(() => admin.close());
  t.deepEqual(
    init.servers.map((s) => `${s.role} ${s.address} ${s.persistence}`),
    [`master ${master.address} aclfile`, `replica ${replica.address} aclfile`],
  );

  const operatorCredentials = await readCredentials(init.operator.file);
  const operator = await Store.connect(options(operatorCredentials));
  t.teardown(() => operator.close());
  // The replica got the users over TLS, as the same administrator: the operator may log in there.
  const onReplica = await Store.connect({ ...options(operatorCredentials), url: replica.url });
  t.teardown(() => onReplica.close());
  t.deepEqual(((await onReplica.redis.call('ACL', 'USERS')) as string[]).sort(), ['ambit-operator', 'ambit-replication', 'ambit-signer', 'default']);

  // Tokens are operator-signed and carry the root the store's bundle is signed by, so the store gets a CA first.
  await initCA(operator, join(tmp, 'ca'), {});
  const operatorKey = await loadOperator(operatorDirFor(join(tmp, 'ca')));
  const minted = await mintNodeToken(operator, operatorKey, { ttlSeconds: 60, node: 'a' });
  t.is(minted.servers?.length, 2);
  const node = await Store.connect(options(tokenCredentials(minted.token, 'ambit:', 'a')));
  t.teardown(() => node.close());
  await node.heartbeatNode({ name: 'a', address: '10.0.0.1' }, 30);
  t.deepEqual(
    (await node.listNodes()).map((n) => n.name),
    ['a'],
  );
  const policy = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-all', namespace: 'istio-system' },
    spec: { action: 'ALLOW', rules: [{}] },
  };
  for (const [what, write] of [
    ['apply an AuthorizationPolicy', () => node.apply([policy])],
    ['mint a join token', () => createJoinToken(node, { operator: operatorKey, ttlSeconds: 60, node: 'b' })],
    ["write another node's heartbeat", () => node.heartbeatNode({ name: 'b', address: '10.0.0.9' }, 30)],
    ['empty the signing queue', () => node.redis.del(identityKeys(node).requests)],
    ['publish a change notification', () => node.redis.publish(node.keys.channel, '{"revision":99}')],
    ['create a Redis user', () => node.redis.call('ACL', 'SETUSER', 'evil', 'on', '>x', '~*', '+@all')],
  ] as const) {
    const err = await t.throwsAsync(write(), undefined, what);
    t.regex(err?.message ?? '', /NOPERM|no permissions|EXECABORT/i, what);
  }
});

test('the TLS port is TLS only, and its certificate is checked', async (t) => {
  // Plaintext to the TLS port gets no answer a client could use.
  const plain = new Redis({
    port: master.port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  plain.on('error', () => undefined);
  t.teardown(() => plain.disconnect());
  await t.throwsAsync(plain.connect().then(() => plain.ping()));
  // Without the CA the self-made certificate is refused.
  const err = await t.throwsAsync(Store.connect({ url: master.url, connectTimeoutMs: 1500 }), { instanceOf: StoreError });
  t.regex(err?.message ?? '', /self[- ]signed|certificate/i);
});
