import test from 'ava';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { certInfo, createRootCA } from '../../core/identity/index.js';
import { joinNode, nodeFiles } from '../../core/identity/client/index.js';
import { createJoinToken, forgetJoined, identityKeys, listIssued, requireBundle } from '../../core/identity/store/index.js';
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
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
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

test('a node name joins once: a second join is refused whatever the token, and a used token stays used after `node remove`', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  await joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a') });
  // A fresh token for the same name does not make a second key for it.
  const again = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  const err = await t.throwsAsync(joinNode({ store: m.store, token: again.token, nodeName: 'a', dir: join(m.tmp, 'a2') }));
  t.is(code(err), 'EIDENTITY_NODE_EXISTS');
  t.regex(err.message, /node a already joined at .*ambit node remove a/);
  // Nothing was written for the refused join, and the new token was not spent.
  await t.throwsAsync(stat(nodeFiles(join(m.tmp, 'a2')).key));
  // The operator frees the name; the old token is still spent, the unspent one works.
  t.true(await forgetJoined(m.store, 'a'));
  t.is(code(await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a3') }))), 'EIDENTITY_TOKEN_USED');
  t.is((await joinNode({ store: m.store, token: again.token, nodeName: 'a', dir: join(m.tmp, 'a4') })).node, 'a');
});

test('a token cannot be created without the node it is for', async (t) => {
  const m = await mesh(t, redis.url);
  t.is(code(await t.throwsAsync(createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: '' }))), 'EIDENTITY_TOKEN_NO_NODE');
});

test('an expired token is refused as expired, an unknown one as unknown, one bound to another node as such', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 1, node: 'a' });
  await new Promise((r) => setTimeout(r, 1200));
  const expired = await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a') }));
  t.is(code(expired), 'EIDENTITY_TOKEN_EXPIRED');
  t.regex(expired.message, /expired at/);
  // A made-up token carries no root: the operator's fingerprint, given out of band, gets it as far as the signer.
  const rootPin = { fingerprint: m.ca.root.native.fingerprint256, from: '--root-fingerprint' };
  const unknown = await t.throwsAsync(joinNode({ store: m.store, token: 'ambit-join-nope', nodeName: 'a', dir: join(m.tmp, 'a'), rootPin }));
  t.is(code(unknown), 'EIDENTITY_TOKEN_UNKNOWN');
  const bound = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'b' });
  const wrong = await t.throwsAsync(joinNode({ store: m.store, token: bound.token, nodeName: 'a', dir: join(m.tmp, 'a') }));
  t.is(code(wrong), 'EIDENTITY_TOKEN_WRONG_NODE');
  t.is((await joinNode({ store: m.store, token: bound.token, nodeName: 'b', dir: join(m.tmp, 'b') })).node, 'b');
});

test('three joins racing with one token: exactly one succeeds', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  const results = await Promise.allSettled(['a1', 'a2', 'a3'].map((d) => joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, d) })));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') t.regex(code(r.reason) ?? '', /^EIDENTITY_(TOKEN_USED|NODE_EXISTS)$/);
});

test('the token is stored only as a digest', async (t) => {
  const m = await mesh(t, redis.url);
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  const keys = await m.store.redis.keys(`${m.store.options.keyPrefix}*`);
  const dump = JSON.stringify(await Promise.all(keys.filter((k) => k.includes('join-token')).map((k) => m.store.redis.hgetall(k))));
  t.false(keys.some((k) => k.includes(token)));
  t.false(dump.includes(token));
});

test('no signer: a clear error after the timeout, and the request is taken back', async (t) => {
  const m = await mesh(t, redis.url);
  await m.signer.stop();
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  const err = await t.throwsAsync(joinNode({ store: m.store, token, nodeName: 'a', dir: join(m.tmp, 'a'), timeoutMs: 500 }));
  t.is(code(err), 'EIDENTITY_NO_SIGNER');
  t.regex(err.message, /no signer answered within 1s: is `ambit ca serve` or `ambitd --ca` running\?/);
  t.is(await m.store.redis.llen(identityKeys(m.store).requests), 0);
});
