import test from 'ava';
import { once } from 'node:events';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { certInfo, createBundle, IdentityError, verifyPeerChain, bundlePem } from '../../core/identity/index.js';
import { CertManager, type CertMaterial } from '../../core/identity/client/index.js';
import { finishRotation, rotateCA } from '../../core/identity/ca-admin.js';
import { requireBundle } from '../../core/identity/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { mesh, opensslVerify } from './identity-util.js';
import { until } from './store-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const SERVER = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT = 'spiffe://cluster.local/ns/default/sa/client';

function tlsOptions(m: CertMaterial) {
  return { key: m.keyPem, cert: m.chainPem, ca: m.bundlePem };
}

async function startTls(material: CertMaterial): Promise<Server> {
  const server = createServer({ ...tlsOptions(material), requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** One mTLS round trip; resolves with the server's leaf serial as this client saw it. */
function roundTrip(server: Server, client: CertMaterial): Promise<{ serial: string; spiffeId: string }> {
  return new Promise((resolve, reject) => {
    const sock: TLSSocket = connect({
      port: (server.address() as AddressInfo).port,
      host: '127.0.0.1',
      ...tlsOptions(client),
      // SPIFFE certificates have no DNS names; the identity is checked below instead.
      checkServerIdentity: () => undefined,
    });
    sock.once('secureConnect', () => {
      // getPeerCertificate before getPeerX509Certificate: the other order returns {} on Node 20.
      const chain = sock.getPeerCertificate(true);
      const spiffeId = verifyPeerChain(chain, createBundle('cluster.local', [client.bundlePem])).spiffeId.uri;
      const peer = sock.getPeerX509Certificate()!;
      sock.once('data', () => {
        sock.end();
        resolve({ serial: peer.serialNumber.toLowerCase(), spiffeId });
      });
    });
    sock.once('error', reject);
  });
}

test('with a 4 s TTL certificates rotate repeatedly and a TLS server keeps accepting clients across rotations', async (t) => {
  const m = await mesh(t, redis.url, { workloadCertTtlSeconds: 4 });
  const node = await m.join('a');
  await m.enroll('a', 'server');
  await m.enroll('a', 'client');
  const certs = new CertManager({ store: m.store, node, retryMinMs: 100 });
  await certs.start();
  t.teardown(() => certs.stop());
  await certs.setIdentities([SERVER, CLIENT]);
  const server = await startTls(certs.material(SERVER)!);
  t.teardown(() => server.close());
  // The rotation hook the daemon uses: new connections get the new certificate, no restart.
  certs.on('updated', (id, material) => {
    if (id === SERVER) server.setSecureContext(tlsOptions(material));
  });

  const serials = new Set<string>();
  let handshakes = 0;
  const deadline = Date.now() + 25_000;
  while (serials.size < 4 && Date.now() < deadline) {
    const seen = await roundTrip(server, certs.material(CLIENT)!);
    t.is(seen.spiffeId, SERVER);
    serials.add(seen.serial);
    handshakes++;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.true(serials.size >= 4, `server presented ${serials.size} certificates over ${handshakes} handshakes`);
  const server_ = certs.list().find((s) => s.spiffeId === SERVER)!;
  t.true(server_.renewals >= 4);
  t.is(server_.state, 'valid');
  t.is(certs.current(SERVER)!.serial, certInfo(certs.material(SERVER)!.chainPem).serial);
});

test('root rotation: two roots in the bundle keep old and new leaves valid; --finish drops the old root', async (t) => {
  const m = await mesh(t, redis.url);
  const a = await m.join('a');
  const b = await m.join('b'); // joins under the old root and is left alone
  await m.enroll('a', 'server');
  const certs = new CertManager({ store: m.store, node: a, retryMinMs: 100 });
  await certs.start();
  t.teardown(() => certs.stop());
  await certs.setIdentities([SERVER]);
  const old = certs.material(SERVER)!;

  const rotated = await rotateCA(m.store, m.caDir);
  t.is(rotated.roots, 2);
  const { bundle } = await requireBundle(m.store);
  t.is(bundle.roots.length, 2);
  // The manager sees the new root and renews at once, under the new root.
  await until(
    'a leaf from the new root',
    () => certs.material(SERVER)?.chainPem !== old.chainPem && certs.material(SERVER)!.bundlePem.includes(rotated.ca.root.pem.trim()),
  );
  await until('the node cert from the new root', () => opensslVerify(m.tmp, rotated.ca.root.pem, certs.nodeIdentity().chainPem).then((r) => r.ok));
  const fresh = certs.material(SERVER)!;
  t.true((await opensslVerify(m.tmp, rotated.ca.root.pem, fresh.chainPem)).ok);
  t.false((await opensslVerify(m.tmp, rotated.previous.root.pem, fresh.chainPem)).ok);

  // Both leaves verify against the two-root bundle: ambit's verifier, openssl, node:tls.
  for (const leaf of [old, fresh]) {
    t.is(verifyPeerChain(leaf.chainPem, bundle).spiffeId.uri, SERVER);
    t.true((await opensslVerify(m.tmp, bundlePem(bundle), leaf.chainPem)).ok);
  }
  const both = { ...fresh, bundlePem: bundlePem(bundle) };
  const newServer = await startTls(both);
  const oldServer = await startTls({ ...old, bundlePem: bundlePem(bundle) });
  t.teardown(() => newServer.close());
  t.teardown(() => oldServer.close());
  t.is((await roundTrip(newServer, { ...old, bundlePem: bundlePem(bundle) })).spiffeId, SERVER);
  t.is((await roundTrip(oldServer, both)).spiffeId, SERVER);

  // Node b still holds a certificate under the old root: finishing now would cut it off.
  const refused = await t.throwsAsync(finishRotation(m.store, m.caDir));
  t.is((refused as IdentityError).code, 'EIDENTITY_BUNDLE_CONFLICT');
  t.regex(refused.message, /1 live certificate\(s\) still chain to the old root \(b spiffe:\/\/cluster\.local\/ambit\/node\/b\)/);
  void b;
  const finished = await finishRotation(m.store, m.caDir, { force: true });
  t.is(finished.roots, 1);
  const after = (await requireBundle(m.store)).bundle;
  t.deepEqual(after.roots, [rotated.ca.root.pem]);
  t.is(verifyPeerChain(fresh.chainPem, after).spiffeId.uri, SERVER);
  t.throws(() => verifyPeerChain(old.chainPem, after), { code: 'EIDENTITY_UNTRUSTED' } as never);
  await until('the manager drops the old root', () => certs.trustBundle().roots.length === 1);
  // The signer keeps working under the new root alone.
  await certs.renewNow(SERVER);
  t.true((await opensslVerify(m.tmp, bundlePem(after), certs.material(SERVER)!.chainPem)).ok);
});
