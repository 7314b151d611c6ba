import test from 'ava';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { certInfo, createRootCA } from '../../core/identity/index.js';
import { joinNode, nodeFiles } from '../../core/identity/client/index.js';
import { createJoinToken, identityKeys, listIssued, requireBundle } from '../../core/identity/store/index.js';
import { bundlePem } from '../../core/identity/bundle.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code, mesh, opensslVerify } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('a node joins: node cert whose URI SAN is its SPIFFE ID, accepted by openssl verify; key 0600', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { ttlSeconds: 60 });
  const dir = join(m.tmp, 'a');
  const node = await joinNode({ store: m.store, token, nodeName: 'a', dir });
  t.is(node.spiffeId.uri, 'spiffe://cluster.local/ambit/node/a');
  t.is(certInfo(node.chainPem).spiffeId, 'spiffe://cluster.local/ambit/node/a');
  const verified = await opensslVerify(m.tmp, m.ca.root.pem, node.chainPem);
  t.true(verified.ok, verified.output);
  t.regex(verified.output, /OK/);
  // A certificate from another CA is not accepted by the same check (the check can fail).
  t.false((await opensslVerify(m.tmp, (await createRootCA()).root.pem, node.chainPem)).ok);
  // The published bundle is what nodes verify with, and it accepts the cert too.
  t.true((await opensslVerify(m.tmp, bundlePem((await requireBundle(m.store)).bundle), node.chainPem)).ok);
  t.is((await stat(nodeFiles(dir).key)).mode & 0o777, 0o600);
  const issued = await listIssued(m.store, { node: 'a' });
  t.is(issued.length, 1);
  t.like(issued[0], { node: 'a', kind: 'node', spiffeId: node.spiffeId.uri, serial: node.serial, root: m.ca.root.native.fingerprint256 });
});

test('a token is one-time: the second join with it is refused as used', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { ttlSeconds: 60 });
  await joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a') });
  const err = await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'b', dir: join(m.tmp, 'b') }));
  t.is(code(err), 'EIDENTITY_TOKEN_USED');
  t.regex(err.message, /already used by node a/);
  // Nothing was written for the refused node, so a retry with a good token just works.
  await t.throwsAsync(stat(nodeFiles(join(m.tmp, 'b')).key));
});

test('an expired token is refused as expired, an unknown one as unknown, one bound to another node as such', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { ttlSeconds: 1 });
  await new Promise((r) => setTimeout(r, 1200));
  const expired = await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a') }));
  t.is(code(expired), 'EIDENTITY_TOKEN_EXPIRED');
  t.regex(expired.message, /expired at/);
  const unknown = await t.throwsAsync(joinNode({ store: m.store, token: 'ambit-join-nope', nodeName: 'a', dir: join(m.tmp, 'a') }));
  t.is(code(unknown), 'EIDENTITY_TOKEN_UNKNOWN');
  const bound = await createJoinToken(m.store, { ttlSeconds: 60, node: 'b' });
  const wrong = await t.throwsAsync(joinNode({ store: m.store, token: bound.token, nodeName: 'a', dir: join(m.tmp, 'a') }));
  t.is(code(wrong), 'EIDENTITY_TOKEN_WRONG_NODE');
  t.is((await joinNode({ store: m.store, token: bound.token, nodeName: 'b', dir: join(m.tmp, 'b') })).node, 'b');
});

test('two joins racing with one token: exactly one succeeds', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { ttlSeconds: 60 });
  const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => joinNode({ store: m.store, token, nodeName: n, dir: join(m.tmp, n) })));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  t.deepEqual(
    results.filter((r) => r.status === 'rejected').map((r) => code(r.reason)),
    ['EIDENTITY_TOKEN_USED', 'EIDENTITY_TOKEN_USED'],
  );
});

test('the token is stored only as a digest', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { ttlSeconds: 60 });
  const keys = await m.store.redis.keys(`${m.store.options.keyPrefix}*`);
  const dump = JSON.stringify(await Promise.all(keys.filter((k) => k.includes('join-token')).map((k) => m.store.redis.hgetall(k))));
  t.false(keys.some((k) => k.includes(token)));
  t.false(dump.includes(token));
});

test('no signer: a clear error after the timeout, and the request is taken back', async (t) => {
  const m = await mesh(t, redis.url);
  await m.signer.stop();
  const { token } = await createJoinToken(m.store, { ttlSeconds: 60 });
  const err = await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a'), timeoutMs: 500 }));
  t.is(code(err), 'EIDENTITY_NO_SIGNER');
  t.regex(err.message, /no signer answered within 1s: is `ambit ca serve` or `ambitd --ca` running\?/);
  t.is(await m.store.redis.llen(identityKeys(m.store).requests), 0);
});
