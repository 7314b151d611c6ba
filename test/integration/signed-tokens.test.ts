/**
 * Issue 13, operator-signed join tokens, against a real Redis and a real
 * signer: full write access to Redis no longer makes a token (a record written
 * straight in, one signed by another mesh's operator, or a genuine signature
 * moved onto another token's record are each refused and counted); a removed
 * name cannot join even with a signed token until an operator's new token lifts
 * the name, and then joins with a new certificate while its old one stays revoked.
 */
import test from 'ava';
import { join } from 'node:path';
import { mintNodeToken } from '../../core/access/node-token.js';
import { removeNode } from '../../core/access/node-removal.js';
import { joinNode, requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { createRootCA } from '../../core/identity/index.js';
import { openManifest } from '../../core/identity/manifest/format.js';
import { issueOperator } from '../../core/identity/operator.js';
import { normalizeSerial } from '../../core/identity/revocation/list.js';
import { createJoinToken, identityKeys, tokenDigest } from '../../core/identity/store/index.js';
import { signTokenGrant } from '../../core/identity/store/token-signature.js';
import { signatureRefusals } from '../../core/identity/trust/refusals.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code, mesh } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function tokenRefusals(reason: string): Promise<number> {
  return (await signatureRefusals.get()).values.find((v) => v.labels.kind === 'token' && v.labels.reason === reason)?.value ?? 0;
}

test.serial('a token record written into Redis without the operator key is refused by the signer and counted', async (t) => {
  const m = await mesh(t, redis.url);
  const keys = identityKeys(m.store);
  const expiresAt = Date.now() + 60_000;
  const forge = async (token: string, extra: Record<string, string> = {}) =>
    m.store.redis.hset(keys.token(tokenDigest(token)), { expiresAt: String(expiresAt), createdAt: String(Date.now()), node: 'x', ...extra });
  // Forged tokens carry no root fingerprint: the mesh's, given out of band, gets them as far as the signer.
  const rootPin = { fingerprint: m.ca.root.native.fingerprint256, from: '--root-fingerprint' };
  const attempt = (token: string, dir: string) => joinNode({ store: m.store, token, nodeName: 'x', dir: join(m.tmp, dir), timeoutMs: 5000, rootPin });

  // What createJoinToken wrote before tokens were signed: a digest, a node, an expiry.
  const unsigned = await tokenRefusals('unsigned');
  await forge('ambit-join-forged');
  t.is(code(await t.throwsAsync(attempt('ambit-join-forged', 'x1'))), 'EIDENTITY_TOKEN_UNSIGNED');
  t.is(await tokenRefusals('unsigned'), unsigned + 1);

  // Signed, but by the operator of another mesh.
  const evil = await issueOperator(await createRootCA(), join(m.tmp, 'evil-operator'));
  const untrusted = await tokenRefusals('untrusted-signer');
  await forge('ambit-join-evil', { signed: signTokenGrant(evil, { digest: tokenDigest('ambit-join-evil'), node: 'x', expiresAt }) });
  t.is(code(await t.throwsAsync(attempt('ambit-join-evil', 'x2'))), 'EIDENTITY_TOKEN_UNSIGNED');
  t.is(await tokenRefusals('untrusted-signer'), untrusted + 1);

  // A genuine operator signature, copied onto the record of a token the forger made up.
  const real = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'x' });
  const signed = await m.store.redis.hget(keys.token(tokenDigest(real.token)), 'signed');
  const moved = await tokenRefusals('digest-mismatch');
  await forge('ambit-join-copied', { signed: signed! });
  t.is(code(await t.throwsAsync(attempt('ambit-join-copied', 'x3'))), 'EIDENTITY_TOKEN_UNSIGNED');
  t.is(await tokenRefusals('digest-mismatch'), moved + 1);

  // Its expiry pushed out in Redis: the signed one counts.
  const short = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 1, node: 'x' });
  await m.store.redis.hset(keys.token(tokenDigest(short.token)), 'expiresAt', String(Date.now() + 3600_000));
  await new Promise((r) => setTimeout(r, 1100));
  t.is(code(await t.throwsAsync(attempt(short.token, 'x4'))), 'EIDENTITY_TOKEN_EXPIRED');

  // The operator's own token works.
  const node = await attempt(real.token, 'x5');
  t.is(node.spiffeId.uri, 'spiffe://cluster.local/ambit/node/x');
});

test.serial('a removed name is refused even with a signed token, until a new operator token lifts it; its old certificate stays revoked', async (t) => {
  const m = await mesh(t, redis.url);
  const first = await m.join('b');
  const removed = await removeNode(m.store, 'b', m.operator);
  t.true(removed.serials.includes(first.serial));
  const revoked = async () => openManifest((await m.store.manifest()).record!)!.manifest.revoked;
  t.deepEqual((await revoked()).nodes, ['b']);

  // A signed token that did not go through `node token create` (no re-admission): the name is still revoked.
  const raw = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'b' });
  t.is(
    code(await t.throwsAsync(joinNode({ store: m.store, token: raw.token, nodeName: 'b', dir: join(m.tmp, 'b2'), timeoutMs: 5000 }))),
    'EIDENTITY_NODE_REVOKED',
  );

  // `ambit node token create --node b`: the name is admitted again, in the signed manifest.
  const minted = await mintNodeToken(m.store, m.operator, { ttlSeconds: 60, node: 'b' });
  t.true(minted.readmitted);
  t.deepEqual((await revoked()).nodes, []);
  t.truthy((await revoked()).serials[normalizeSerial(first.serial)], 'the old certificate stays revoked');
  const again = await joinNode({ store: m.store, token: minted.token, nodeName: 'b', dir: join(m.tmp, 'b3'), timeoutMs: 5000 });
  t.not(again.serial, first.serial);
  t.falsy((await revoked()).serials[normalizeSerial(again.serial)]);
  // The new node can get workload certificates; a second mint for the joined name is refused as before.
  await m.enroll('b', 'reviews');
  const client = new SignerClient(m.store, 'b', 5000);
  t.teardown(() => client.close());
  t.truthy((await requestWorkloadCert(client, again, 'spiffe://cluster.local/ns/default/sa/reviews')).chainPem);
  t.is(code(await t.throwsAsync(mintNodeToken(m.store, m.operator, { ttlSeconds: 60, node: 'b' }))), 'EIDENTITY_NODE_EXISTS');
});
