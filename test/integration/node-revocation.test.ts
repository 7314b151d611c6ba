/**
 * Issue 13, revocation the data plane enforces, against a real Redis, a real
 * signer, real TLS and a real ambitd (in this process, capture off): after
 * `ambit node remove b`, node b's still-unexpired workload certificate is
 * refused on a's 15008 (new handshakes, and the session already open is cut),
 * counted in ambit_tls_peer_revoked_total; the signer refuses b even once the
 * join record is written back into Redis; and taking the revocation out of the
 * store (an older manifest put back, or the signed one edited) is refused like
 * any manifest tampering, with b still refused.
 */
import test from 'ava';
import { removeNode } from '../../core/access/node-removal.js';
import { requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { signedEnroll } from '../../core/identity/manifest/writer.js';
import { recordJoined } from '../../core/identity/store/index.js';
import { parseEnvelope, serializeEnvelope } from '../../core/identity/trust/envelope.js';
import { signatureRefusals } from '../../core/identity/trust/refusals.js';
import { HboneClient } from '../../core/hbone/index.js';
import { eventually } from '../helpers/eventually.js';
import { startEchoServer } from '../helpers/echo-server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import type { Daemon } from '../../daemon/daemon.js';
import { startNodeA } from './daemon-util.js';
import { code, mesh } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function manifestRefusals(reason: string): Promise<number> {
  return (await signatureRefusals.get()).values.find((v) => v.labels.kind === 'manifest' && v.labels.reason === reason)?.value ?? 0;
}

async function metric(daemon: Daemon, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await daemon.metrics.registry.metrics());
  return m ? Number(m[1]) : 0;
}

test.serial('a removed node’s unexpired workload certificate is refused on 15008 and counted; the signer refuses it whatever Redis says', async (t) => {
  const m = await mesh(t, redis.url);
  // The local service behind a's 15008: echoes.
  const echoPort = await startEchoServer(t);
  await signedEnroll(m.store, m.operator, {
    service: 'productpage',
    namespace: 'default',
    node: 'a',
    address: '127.0.0.1',
    port: echoPort,
    serviceAccount: 'productpage',
    labels: {},
  });

  // Node b and one workload certificate of it: what a removed host still holds.
  const b = await m.join('b');
  await m.enroll('b', 'reviews');
  const signerB = new SignerClient(m.store, 'b', 5000);
  t.teardown(() => signerB.close());
  const reviews = await requestWorkloadCert(signerB, b, 'spiffe://cluster.local/ns/default/sa/reviews');

  const { daemon, base } = await startNodeA(t, m, redis.url);

  // b, as a client presenting its workload certificate to a's 15008.
  const tls = { key: reviews.keyPem, cert: reviews.chainPem, ca: [m.ca.root.pem] };
  const client = (): HboneClient => {
    const c = new HboneClient({ getSecureContext: () => tls, connectTimeoutMs: 3000 });
    t.teardown(() => c.close());
    return c;
  };
  const open = (c: HboneClient) => c.connect({ peer: { host: '127.0.0.1', port: base + 1 }, authority: `127.0.0.1:${echoPort}`, source: reviews.spiffeId });
  const roundTrip = async (c: HboneClient): Promise<string> => {
    const stream = await open(c);
    stream.end('ping');
    let got = '';
    for await (const chunk of stream) got += String(chunk);
    return got;
  };
  t.is(await roundTrip(client()), 'ping', 'before the removal b reaches a');
  const held = client();
  const longLived = await open(held);
  const cut = new Promise<void>((resolve) => {
    longLived.once('close', resolve);
    longLived.once('error', () => resolve());
  });

  const sequenceBefore = (await m.store.manifest()).sequence;
  const recordBefore = (await m.store.manifest()).record!;
  const removed = await removeNode(m.store, 'b', m.operator);
  t.true(removed.serials.includes(reviews.serial), "the workload certificate's serial is revoked");
  t.true(removed.serials.includes(b.serial), "and the node certificate's");
  t.true((removed.revokedAt ?? 0) > sequenceBefore);

  const revoked = /ambit_tls_peer_revoked_total\{direction="inbound",match="serial"\} (\d+)/;
  await eventually(async () => (await metric(daemon, revoked)) >= 1, 5000);
  await cut;
  t.pass('the session b had open was cut when the revocation arrived');
  const before = await metric(daemon, revoked);
  const err = await t.throwsAsync(roundTrip(client()));
  t.truthy(err, 'a new handshake with the revoked certificate is refused');
  await eventually(async () => (await metric(daemon, revoked)) > before, 5000);
  t.true((await metric(daemon, /ambit_tls_handshake_failures_total\{direction="inbound",reason="EIDENTITY_PEER_REVOKED"\} (\d+)/)) >= 1);
  t.is(daemon.state.localIdentities().length, 1, 'a keeps serving its own state');

  // The signer: b's certificate is refused even with its join record written back into Redis.
  await recordJoined(m.store, 'b', b.serial);
  t.is(code(await t.throwsAsync(requestWorkloadCert(signerB, b, 'spiffe://cluster.local/ns/default/sa/reviews'))), 'EIDENTITY_NODE_REVOKED');

  // Taking the revocation out of the store: the pre-removal manifest put back is a rollback, ...
  const rollbacks = await manifestRefusals('rollback');
  // (through the store's own script, as a Redis writer without the key would: it bumps the revision and notifies)
  const tamper = async (record: string) => {
    const stored = await m.store.manifest();
    await m.store.writeManifest({ expect: stored.sequence, sequence: stored.sequence + 1, record });
  };
  await tamper(recordBefore);
  await eventually(async () => (await manifestRefusals('rollback')) > rollbacks, 5000);
  t.truthy(await t.throwsAsync(roundTrip(client())), 'b still refused on 15008');
  t.is(code(await t.throwsAsync(requestWorkloadCert(signerB, b, 'spiffe://cluster.local/ns/default/sa/reviews'))), 'EIDENTITY_MANIFEST_INVALID');
  // ... and the signed one edited to drop b does not verify.
  const signed = parseEnvelope(recordBefore)!;
  const bad = await manifestRefusals('bad-signature');
  const edited = serializeEnvelope({ ...signed, payload: signed.payload.replace(/"sequence":\d+/, `"sequence":${(removed.revokedAt ?? 0) + 5}`) });
  await tamper(edited);
  await eventually(async () => (await manifestRefusals('bad-signature')) > bad, 5000);
  t.truthy(await t.throwsAsync(roundTrip(client())), 'b still refused on 15008');
});
