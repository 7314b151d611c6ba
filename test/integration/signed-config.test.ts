/**
 * Issue 13, signed configuration, against a real Redis, the real CLI, a real
 * signer and a real ambitd (in this process, capture off): with full write
 * access to the store but no operator key, an injected root, an injected
 * enrollment and an injected, altered or deleted policy are each refused,
 * counted in ambit_config_signature_refused_total, and the last good state
 * keeps serving; the operator's own `ambit apply` / `ambit enroll` still land.
 */
import test from 'ava';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createRootCA, createBundle } from '../../core/identity/index.js';
import { requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { identityKeys } from '../../core/identity/store/index.js';
import { signatureRefusals } from '../../core/identity/trust/refusals.js';
import { serializeSignedBundle, signBundle } from '../../core/identity/trust/signed-bundle.js';
import { MANIFEST_SEQUENCE_FILE } from '../../core/identity/manifest/sequence-file.js';
import { ambit } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startNodeA } from './daemon-util.js';
import { code, mesh } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function refused(kind: string, reason: string): Promise<number> {
  const values = (await signatureRefusals.get()).values;
  return values.find((v) => v.labels.kind === kind && v.labels.reason === reason)?.value ?? 0;
}

const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-evil, namespace: default}
spec:
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/evil"]}}]}]
`;

test.serial('the signer issues only for operator-signed enrollments; an enrollment written straight into Redis is refused and counted', async (t) => {
  const m = await mesh(t, redis.url);
  const env = { AMBIT_REDIS_KEY_PREFIX: m.store.options.keyPrefix!, AMBIT_OPERATOR_DIR: join(m.tmp, 'operator') };
  const node = await m.join('a');
  const enrolled = await ambit(['enroll', 'productpage', '--node', 'a', '--port', '9080', '--address', '10.0.0.1'], { redis: redis.url, env });
  t.is(enrolled.code, 0, enrolled.stderr);
  const client = new SignerClient(m.store, 'a', 5000);
  t.teardown(() => client.close());
  const ok = await requestWorkloadCert(client, node, 'spiffe://cluster.local/ns/default/sa/productpage');
  t.truthy(ok.chainPem);

  // Full store access, no operator key: an enrollment the signer's old check alone would have accepted.
  const before = await refused('enrollment', 'extra-entry');
  await m.store.enroll({ service: 'reviews', namespace: 'default', node: 'a', address: '10.0.0.1', port: 9081, serviceAccount: 'reviews', labels: {} });
  const err = await t.throwsAsync(requestWorkloadCert(client, node, 'spiffe://cluster.local/ns/default/sa/reviews'));
  t.is(code(err), 'EIDENTITY_NOT_SIGNED');
  t.is(await refused('enrollment', 'extra-entry'), before + 1);

  // The same identity enrolled by the operator is issued.
  const signed = await ambit(['enroll', 'reviews', '--node', 'a', '--port', '9081', '--address', '10.0.0.1'], { redis: redis.url, env });
  t.is(signed.code, 0, signed.stderr);
  t.truthy((await requestWorkloadCert(client, node, 'spiffe://cluster.local/ns/default/sa/reviews')).chainPem);

  // An injected root: the signer keeps signing under the bundle it trusts.
  const evil = await createRootCA();
  const forged = await signBundle(createBundle('cluster.local', [m.ca.root.pem, evil.root.pem]), 99, evil);
  const keys = identityKeys(m.store);
  await m.store.redis.hset(
    keys.bundle,
    'bundle',
    JSON.stringify({ trustDomain: 'cluster.local', roots: forged.bundle.roots }),
    'revision',
    99,
    'signed',
    serializeSignedBundle(forged),
  );
  await m.store.redis.publish(keys.bundleChannel, '{"revision":99}');
  await eventually(async () => m.signer.stats.bundlesRefused > 0, 5000);
  t.truthy((await requestWorkloadCert(client, node, 'spiffe://cluster.local/ns/default/sa/productpage')).chainPem, 'still issuing under the trusted root');
});

test.serial(
  'ambitd refuses injected, altered and deleted policy, an injected enrollment and an injected root, keeps its last good state, and takes the operator’s changes',
  async (t) => {
    const m = await mesh(t, redis.url);
    const prefix = m.store.options.keyPrefix!;
    const env = { AMBIT_REDIS_KEY_PREFIX: prefix, AMBIT_OPERATOR_DIR: join(m.tmp, 'operator') };
    const cli = (args: string[], stdin?: string) => ambit(args, { redis: redis.url, env, ...(stdin !== undefined ? { stdin } : {}) });
    t.is((await cli(['apply', '-f', '-'], DENY)).code, 0);
    // Enrolled before node a joins (startNodeA): the operator says it is coming.
    t.is((await cli(['enroll', 'productpage', '--node', 'a', '--allow-unknown-node', '--port', '9080', '--address', '127.0.0.1'])).code, 0);

    const { daemon, identity, dir } = await startNodeA(t, m, redis.url);
    const policies = () => daemon.state.resources.filter((r) => r.kind === 'AuthorizationPolicy').map((r) => `${r.metadata.name}:${JSON.stringify(r.spec)}`);
    const good = policies();
    t.is(good.length, 1);
    t.deepEqual(daemon.state.localIdentities(), ['spiffe://cluster.local/ns/default/sa/productpage']);
    const stored = async () => Number((await readFile(join(dir, MANIFEST_SEQUENCE_FILE), 'utf8').catch(() => '0')).trim());
    await eventually(async () => (await stored()) >= 2, 5000);
    t.true((await stored()) >= 2, 'the accepted manifest sequence is kept in the state dir');

    const refusedWith = async (reason: string, attack: () => Promise<unknown>) => {
      const before = await refused('manifest', reason);
      await attack();
      await eventually(async () => (await refused('manifest', reason)) > before, 5000);
      t.deepEqual(policies(), good, `${reason}: the last good policy set keeps serving`);
    };
    const [doc] = await m.store.list('AuthorizationPolicy');
    // Deleted: the DENY vanishes from the store.
    await refusedWith('missing-entry', () => m.store.delete([{ kind: 'AuthorizationPolicy', namespace: 'default', name: 'deny-evil' }]));
    // The operator puts it back: the store matches the manifest again.
    t.is((await cli(['apply', '-f', '-'], DENY)).code, 0);
    await eventually(async () => daemon.state.revision === (await m.store.revision()), 5000);
    t.deepEqual(policies(), good);
    // Altered: DENY turned into an ALLOW-nothing-useful.
    await refusedWith('digest-mismatch', () => m.store.apply([{ ...doc!, spec: { action: 'AUDIT', rules: [{}] } }]));
    t.is((await cli(['apply', '-f', '-'], DENY)).code, 0);
    // Injected: a policy nobody signed.
    await refusedWith('extra-entry', () =>
      m.store.apply([{ ...doc!, metadata: { name: 'allow-all', namespace: 'default' }, spec: { action: 'ALLOW', rules: [{}] } }]),
    );
    t.is((await cli(['delete', 'authorizationpolicy', 'allow-all'])).code, 0);
    // An injected enrollment: no certificate is even asked for it.
    await refusedWith('extra-entry', () =>
      m.store.enroll({ service: 'evil', namespace: 'default', node: 'a', address: '127.0.0.1', port: 9999, serviceAccount: 'evil', labels: {} }),
    );
    t.false(daemon.state.localIdentities().includes('spiffe://cluster.local/ns/default/sa/evil'));
    t.is((await cli(['unenroll', 'evil', '--node', 'a'])).code, 0);

    // A legitimate enrollment takes effect.
    t.is((await cli(['enroll', 'reviews', '--node', 'a', '--port', '9081', '--address', '127.0.0.1'])).code, 0);
    await eventually(async () => daemon.state.localIdentities().includes('spiffe://cluster.local/ns/default/sa/reviews'), 5000);

    // An injected root never reaches the node's trust bundle.
    const evil = await createRootCA();
    const forged = await signBundle(createBundle('cluster.local', [m.ca.root.pem, evil.root.pem]), 99, evil);
    const keys = identityKeys(m.store);
    const before = await refused('bundle', 'untrusted-signer');
    await m.store.redis.hset(keys.bundle, 'revision', 99, 'signed', serializeSignedBundle(forged));
    await m.store.redis.publish(keys.bundleChannel, '{"revision":99}');
    await eventually(async () => (await refused('bundle', 'untrusted-signer')) > before, 5000);
    t.deepEqual(identity.trustBundle().roots, [m.ca.root.pem]);
    t.regex(await daemon.metrics.registry.metrics(), /ambit_config_signature_refused_total\{kind="manifest",reason="missing-entry"\} [1-9]/);
  },
);
