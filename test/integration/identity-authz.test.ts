import test from 'ava';
import { createConnection } from 'node:net';
import { createRootCA, createCsr, generateKeyPair, issueCertificate, verifyCsr, exportPrivateKeyPem, nodeId, certInfo } from '../../core/identity/index.js';
import { nodeAuth, nodeIdentity, requestNodeRenewal, requestWorkloadCert, SignerClient, type NodeIdentity } from '../../core/identity/client/index.js';
import type { SignRequest, SignResponse } from '../../core/identity/signer/index.js';
import { identityKeys, listIssued } from '../../core/identity/store/index.js';
import type { Store } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { code, mesh, opensslVerify } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const wl = (sa: string, ns = 'default'): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

/** Sends a request exactly as given (same id, same nonce), the way an attacker replaying one would. */
async function rawRequest(store: Store, req: SignRequest): Promise<SignResponse> {
  const keys = identityKeys(store);
  await store.redis.rpush(keys.requests, JSON.stringify(req));
  const conn = store.redis.duplicate();
  try {
    const popped = await conn.blpop(keys.response(req.node, req.id), 5);
    if (!popped) throw new Error('no response');
    return JSON.parse(popped[1]) as SignResponse;
  } finally {
    conn.disconnect();
  }
}

async function workloadRequest(node: NodeIdentity, spiffeId: string, id = `req${Date.now()}${Math.random().toString(36).slice(2, 8)}`): Promise<SignRequest> {
  const csr = await createCsr(spiffeId, await generateKeyPair());
  return { v: 1, id, node: node.spiffeId.node, kind: 'workload', csr, auth: nodeAuth(node, { kind: 'workload', id, csr }), deadline: Date.now() + 10_000 };
}

test('a node gets identities enrolled on it, and is refused those enrolled only on another node', async (t) => {
  const m = await mesh(t, redis.url);
  const a = await m.join('a');
  const b = await m.join('b');
  await m.enroll('a', 'productpage');
  await m.enroll('b', 'reviews');
  const client = new SignerClient(m.store, 'a', 5000);
  const clientB = new SignerClient(m.store, 'b', 5000);
  t.teardown(() => (client.close(), clientB.close()));

  const mine = await requestWorkloadCert(client, a, wl('productpage'));
  t.is(certInfo(mine.chainPem).spiffeId, wl('productpage'));
  t.true((await opensslVerify(m.tmp, m.ca.root.pem, mine.chainPem)).ok);

  const err = await t.throwsAsync(requestWorkloadCert(client, a, wl('reviews')));
  t.is(code(err), 'EIDENTITY_NOT_ENROLLED');
  t.regex(err.message, /node a asked for spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews, but no service .* is enrolled on node a/);
  // Same service account in another namespace is another identity.
  t.is(code(await t.throwsAsync(requestWorkloadCert(client, a, wl('productpage', 'prod')))), 'EIDENTITY_NOT_ENROLLED');

  const theirs = await requestWorkloadCert(clientB, b, wl('reviews'));
  t.is(certInfo(theirs.chainPem).spiffeId, wl('reviews'));
  t.deepEqual(
    (await listIssued(m.store)).map((r) => `${r.node} ${r.kind} ${r.spiffeId}`),
    [
      'a node spiffe://cluster.local/ambit/node/a',
      `a workload ${wl('productpage')}`,
      'b node spiffe://cluster.local/ambit/node/b',
      `b workload ${wl('reviews')}`,
    ],
  );
});

test('a node renews its own node cert with its current one, and cannot ask for another node ID', async (t) => {
  const m = await mesh(t, redis.url);
  const a = await m.join('a');
  const client = new SignerClient(m.store, 'a', 5000);
  t.teardown(() => client.close());
  const renewed = await requestNodeRenewal(client, a);
  t.is(renewed.spiffeId.uri, a.spiffeId.uri);
  t.not(renewed.serial, a.serial);
  t.is(renewed.keyPem, a.keyPem);
  // A node-renew CSR for node b, signed by a: refused.
  const csr = await createCsr(nodeId('cluster.local', 'b'), await generateKeyPair());
  const id = 'renew-as-b-0001';
  const res = await rawRequest(m.store, {
    v: 1,
    id,
    node: 'a',
    kind: 'node-renew',
    csr,
    auth: nodeAuth(a, { kind: 'node-renew', id, csr }),
    deadline: Date.now() + 5000,
  });
  t.like(res, { ok: false, code: 'EIDENTITY_CSR_IDENTITY_MISMATCH' });
  // A workload CSR cannot be used to join.
  const join2 = await rawRequest(m.store, {
    v: 1,
    id: 'join-as-workload',
    node: 'x',
    kind: 'join',
    csr: await createCsr(wl('x'), await generateKeyPair()),
    token: 'whatever',
    deadline: Date.now() + 5000,
  });
  t.like(join2, { ok: false, code: 'EIDENTITY_NOT_NODE' });
});

test('forged requests are refused: foreign CA, bad signature, replayed nonce, stale timestamp, workload cert as node', async (t) => {
  const m = await mesh(t, redis.url);
  const a = await m.join('a');
  await m.enroll('a', 'productpage');

  // A node cert for "a" from a CA the mesh does not trust.
  const rogue = await createRootCA();
  const keys = await generateKeyPair();
  const forged = await issueCertificate(rogue, await verifyCsr(await createCsr(nodeId('cluster.local', 'a'), keys), { trustDomain: 'cluster.local' }), {
    ttlSeconds: 600,
  });
  const impostor = nodeIdentity(await exportPrivateKeyPem(keys.privateKey), forged.chainPem, a.bundle);
  t.like(await rawRequest(m.store, await workloadRequest(impostor, wl('productpage'))), { ok: false, code: 'EIDENTITY_UNTRUSTED' });

  // The real chain of a, signed with another key.
  const other = nodeIdentity(await exportPrivateKeyPem((await generateKeyPair()).privateKey), a.chainPem, a.bundle);
  t.like(await rawRequest(m.store, await workloadRequest(other, wl('productpage'))), { ok: false, code: 'EIDENTITY_BAD_SIGNATURE' });

  // A valid request, then the very same bytes again.
  const good = await workloadRequest(a, wl('productpage'), 'replay-me-00001');
  t.like(await rawRequest(m.store, good), { ok: true });
  t.like(await rawRequest(m.store, good), { ok: false, code: 'EIDENTITY_REPLAY' });

  // A correctly signed request from 10 minutes ago.
  const id = 'stale-request-01';
  const csr = await createCsr(wl('productpage'), await generateKeyPair());
  const stale: SignRequest = {
    v: 1,
    id,
    node: 'a',
    kind: 'workload',
    csr,
    auth: nodeAuth(a, { kind: 'workload', id, csr }, Date.now() - 10 * 60_000),
    deadline: Date.now() + 5000,
  };
  t.like(await rawRequest(m.store, stale), { ok: false, code: 'EIDENTITY_STALE_REQUEST' });

  // The CSR swapped after signing: the signature covers its digest.
  const swapped = await workloadRequest(a, wl('productpage'));
  swapped.csr = await createCsr(wl('productpage'), await generateKeyPair());
  t.like(await rawRequest(m.store, swapped), { ok: false, code: 'EIDENTITY_BAD_SIGNATURE' });

  // A workload certificate (valid, from this CA) is not a node identity.
  const client = new SignerClient(m.store, 'a', 5000);
  t.teardown(() => client.close());
  const wlCert = await requestWorkloadCert(client, a, wl('productpage'));
  const asNode = { ...a, chainPem: wlCert.chainPem, keyPem: wlCert.keyPem };
  t.like(await rawRequest(m.store, await workloadRequest(asNode, wl('productpage'))), { ok: false, code: 'EIDENTITY_NOT_NODE' });

  // Garbage on the queue is answered, not fatal to the signer.
  t.like(await rawRequest(m.store, { v: 1, id: 'garbage-req-0001', node: 'a', kind: 'workload', csr: 'nope', deadline: Date.now() + 5000 }), {
    ok: false,
    code: 'EIDENTITY_BAD_REQUEST',
  });
  t.like(await rawRequest(m.store, await workloadRequest(a, wl('productpage'))), { ok: true });
  t.is(m.signer.stats.refused, 7);
});

test('the join key stays on the node: only CSRs and certificates pass through the store', async (t) => {
  const m = await mesh(t, redis.url);
  // MONITOR over a bare socket: every command any client sends, as Redis sees it.
  const seen: string[] = [];
  const monitor = createConnection({ port: redis.port, host: '127.0.0.1' }, () => monitor.write('MONITOR\r\n'));
  monitor.setEncoding('utf8').on('data', (d: string) => seen.push(d));
  t.teardown(() => monitor.destroy());
  await new Promise((r) => setTimeout(r, 100));
  const a = await m.join('a');
  await m.enroll('a', 'productpage');
  const client = new SignerClient(m.store, 'a', 5000);
  t.teardown(() => client.close());
  const cert = await requestWorkloadCert(client, a, wl('productpage'));
  await new Promise((r) => setTimeout(r, 100));
  // MONITOR escapes newlines as \\n; compare without them.
  const traffic = seen.join('').replace(/\\n/g, '');
  t.true(traffic.includes('CERTIFICATE REQUEST'));
  t.false(traffic.includes('PRIVATE KEY'));
  const b64 = (pem: string) =>
    pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
  t.false(traffic.includes(b64(a.keyPem).slice(0, 40)));
  t.false(traffic.includes(b64(cert.keyPem).slice(0, 40)));
});
