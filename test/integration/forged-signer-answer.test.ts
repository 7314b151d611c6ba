/**
 * Answers to a node's certificate requests come back through the store, so a
 * Redis writer can answer in the signer's place: it sees the CSR (the public
 * key) and can wrap it in a certificate from a CA of its own. The certificate
 * manager uses an answer only if its chain leads to the bundle it trusts and
 * names the identity it asked for; the forged one is a failed request (the
 * daemon would otherwise serve it), and the real signer's answer is then taken.
 */
import test from 'ava';
import { bundleOf, createRootCA, serializeBundle } from '../../core/identity/index.js';
import { CertManager } from '../../core/identity/client/index.js';
import { verifyCsr } from '../../core/identity/csr.js';
import { issueCertificate } from '../../core/identity/sign.js';
import { startSigner, type SignRequest } from '../../core/identity/signer/index.js';
import { identityKeys } from '../../core/identity/store/index.js';
import { verifyPeerChain } from '../../core/identity/verify.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code, mesh } from './identity-util.js';

const SERVER = 'spiffe://cluster.local/ns/default/sa/server';
let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('a workload certificate answered by an attacker CA through the store is refused; the signer’s is used', async (t) => {
  const m = await mesh(t, redis.url);
  const node = await m.join('a');
  await m.enroll('a', 'server');
  await m.signer.stop();
  const attacker = await createRootCA();
  const keys = identityKeys(m.store);
  const popper = m.store.redis.duplicate();
  t.teardown(() => popper.disconnect());
  // The attacker takes the request off the queue and answers it, as the signer would.
  const answered = (async () => {
    const popped = await popper.blpop(keys.requests, 10);
    if (!popped) throw new Error('no request to answer');
    const request = JSON.parse(popped[1]) as SignRequest;
    const issued = await issueCertificate(attacker, await verifyCsr(request.csr, { trustDomain: 'cluster.local' }), { ttlSeconds: 3600 });
    const response = {
      ok: true,
      certPem: issued.certPem,
      chainPem: issued.chainPem,
      bundle: serializeBundle(bundleOf(attacker)),
      serial: issued.serial,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      renewAt: issued.renewAt.toISOString(),
    };
    await m.store.redis.rpush(keys.response(request.node, request.id), JSON.stringify(response));
    return request.kind;
  })();
  const certs = new CertManager({ store: m.store, node, retryMinMs: 300 });
  const failures: unknown[] = [];
  certs.on('failed', (_id, err) => failures.push(err));
  await certs.start();
  t.teardown(() => certs.stop());
  await certs.setIdentities([SERVER]);
  t.is(await answered, 'workload');
  t.is(certs.material(SERVER), undefined, 'the forged certificate is not served');
  t.is(code(failures[0]), 'EIDENTITY_UNTRUSTED');

  const signer = await startSigner({ store: m.store, caDir: m.caDir });
  t.teardown(() => signer.stop());
  await eventually(async () => certs.material(SERVER) !== undefined, 15_000);
  t.is(verifyPeerChain(certs.material(SERVER)!.chainPem, bundleOf(m.ca)).spiffeId.uri, SERVER);
});
