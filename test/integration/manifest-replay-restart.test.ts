/**
 * Issue 13, replay protection that survives a restart, against a real Redis,
 * real signers and the store-fed waypoint: the highest manifest sequence each
 * accepted is on disk (the signer's in its CA dir, the waypoint's in its
 * state dir), so after a restart an older signed manifest put back into the
 * store, with the store made to match it, is refused as a rollback (counted
 * in ambit_config_signature_refused_total{kind="manifest",reason="rollback"})
 * while the current one is accepted. Each replay is also shown to work
 * against a reader started without that file: the file is what stops it.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeNode } from '../../core/access/node-removal.js';
import { requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { IdentityError } from '../../core/identity/errors.js';
import { openManifest } from '../../core/identity/manifest/format.js';
import { MANIFEST_SEQUENCE_FILE } from '../../core/identity/manifest/sequence-file.js';
import { signedEnroll, signedUnenroll } from '../../core/identity/manifest/writer.js';
import { startSigner, type RunningSigner } from '../../core/identity/signer/index.js';
import { signatureRefusals } from '../../core/identity/trust/refusals.js';
import type { Store } from '../../core/store/index.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code, mesh } from './identity-util.js';
import { caller, endpoint, sample, startMeshWaypoint, trustScene } from './waypoint-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const rollbacks = async (): Promise<number> =>
  (await signatureRefusals.get()).values.find((v) => v.labels.kind === 'manifest' && v.labels.reason === 'rollback')?.value ?? 0;

const sequenceOf = (record: string): number => openManifest(record)!.manifest.sequence;
const storedSequence = async (dir: string): Promise<number> => Number((await readFile(join(dir, MANIFEST_SEQUENCE_FILE), 'utf8')).trim());

/** Puts `record` back as the store's manifest, through the store's own script (as a Redis writer without the operator key would). */
async function putManifest(store: Store, record: string): Promise<void> {
  const stored = await store.manifest();
  await store.writeManifest({ expect: stored.sequence, sequence: stored.sequence + 1, record });
}

test.serial('a restarted signer refuses an older signed manifest that revives an unenrolled identity, and accepts the current one', async (t) => {
  const m = await mesh(t, redis.url);
  const a = await m.join('a');
  const productpage = endpoint('productpage', 'a', 9080);
  await signedEnroll(m.store, m.operator, productpage);
  await signedEnroll(m.store, m.operator, endpoint('reviews', 'a', 9081));
  const client = new SignerClient(m.store, 'a', 5000);
  t.teardown(() => client.close());
  const ask = (sa: string) => requestWorkloadCert(client, a, `spiffe://cluster.local/ns/default/sa/${sa}`);
  t.truthy((await ask('productpage')).chainPem);
  const old = (await m.store.manifest()).record!;

  // productpage is unenrolled by the operator; the signer sees the new manifest.
  await signedUnenroll(m.store, m.operator, 'default', 'productpage', { node: 'a' });
  const current = (await m.store.manifest()).record!;
  t.truthy((await ask('reviews')).chainPem);
  t.is(code(await t.throwsAsync(ask('productpage'))), 'EIDENTITY_NOT_ENROLLED');
  await m.signer.stop();
  t.is(await storedSequence(m.caDir), sequenceOf(current), 'the signer kept the accepted sequence in its CA dir');

  // The replay: the older manifest, and the store made to match it.
  await m.store.enroll(productpage);
  await putManifest(m.store, old);
  const start = async (stateDir?: string): Promise<RunningSigner> => {
    const s = await startSigner({ store: m.store, caDir: m.caDir, ...(stateDir ? { stateDir } : {}) });
    t.teardown(() => s.stop());
    return s;
  };
  let signer = await start();
  const before = await rollbacks();
  const err = await t.throwsAsync(ask('productpage'));
  t.is(code(err), 'EIDENTITY_MANIFEST_INVALID');
  t.regex(err.message, /rollback/);
  t.true((await rollbacks()) > before, 'counted as a rollback');
  t.is(signer.stats.refused, 1);
  await signer.stop();

  // Without the file (a signer with a fresh state dir) the replay would have worked.
  signer = await start(join(m.tmp, 'fresh-signer-state'));
  t.truthy((await ask('productpage')).chainPem, 'a signer that forgot the sequence issues for the revived enrollment');
  await signer.stop();

  // The operator's current manifest back: accepted, and it issues what it lists.
  await m.store.unenroll('default', 'productpage', { node: 'a' });
  await putManifest(m.store, current);
  signer = await start();
  t.truthy((await ask('reviews')).chainPem);
  t.is(code(await t.throwsAsync(ask('productpage'))), 'EIDENTITY_NOT_ENROLLED');
  t.is(signer.stats.issued, 1, 'the current manifest is accepted after the restart');
});

test.serial(
  'a restarted waypoint refuses the manifest from before a node removal, so the removed caller stays refused; the current one is accepted',
  async (t) => {
    const m = await mesh(t, redis.url);
    const { vip, port: endpointPort, productpage, callerTls: tls, callerId } = await trustScene(t, m);
    const beforeRemoval = (await m.store.manifest()).record!;

    const stateDir = join(m.tmp, 'wp-state');
    const first = await startMeshWaypoint(t, m, 'ratings', stateDir);
    t.is((await caller(t, tls, callerId, first, vip, endpointPort).get()).status, 200);
    const removed = await removeNode(m.store, 'c', m.operator);
    const current = (await m.store.manifest()).record!;
    await eventually(async () => first.sequence.value === sequenceOf(current), 5000);
    await first.close();
    t.is(await storedSequence(stateDir), sequenceOf(current), 'the waypoint kept the accepted sequence in its state dir');
    t.true(sequenceOf(current) >= removed.revokedAt!);

    // The replay: the manifest from before the removal (no revocation, c's enrollment listed), the store made to match it.
    await m.store.enroll(productpage);
    await putManifest(m.store, beforeRemoval);
    const before = await rollbacks();
    const err = await t.throwsAsync(startMeshWaypoint(t, m, 'ratings', stateDir), { instanceOf: IdentityError });
    t.is(err.code, 'EIDENTITY_MANIFEST_INVALID');
    t.regex(err.message, /rollback.*below the accepted/);
    t.true((await rollbacks()) > before, 'counted as a rollback');

    // Without the file (a fresh state dir) the replay would have let the removed caller back in.
    const forgetful = await startMeshWaypoint(t, m, 'ratings', join(m.tmp, 'fresh-wp-state'));
    t.is((await caller(t, tls, callerId, forgetful, vip, endpointPort).get()).status, 200, 'a waypoint that forgot the sequence admits c again');
    await forgetful.close();

    // The current manifest back: accepted after the restart, and c stays refused.
    await m.store.unenroll('default', 'productpage', { node: 'c' });
    await putManifest(m.store, current);
    const restarted = await startMeshWaypoint(t, m, 'ratings', stateDir);
    t.is(restarted.sequence.value, sequenceOf(current));
    await t.throwsAsync(caller(t, tls, callerId, restarted, vip, endpointPort).get(), undefined, 'c’s certificate is refused on the handshake');
    t.true((await sample(restarted.server, /ambit_tls_peer_revoked_total\{direction="inbound",match="(?:serial|node)"\} (\d+)/)) >= 1);
  },
);
