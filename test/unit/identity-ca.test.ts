import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import {
  bundleOf,
  createIntermediateCA,
  createRootCA,
  exportPrivateKeyPem,
  loadCA,
  loadCAFiles,
  verifyPeerChain,
  writeCAFiles,
} from '../../core/identity/index.js';
import { issueFor, openssl, tempDir, writeFiles } from './identity-fixtures.js';

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';

test('the root CA has the extensions a mesh root needs, as openssl reads them', async (t) => {
  const ca = await createRootCA();
  const dir = await tempDir(t);
  const { root } = await writeFiles(dir, { root: ca.root.pem });
  const text = (await openssl(['x509', '-in', root, '-noout', '-text'])).stdout;
  t.regex(text, /Subject: O ?= ?ambit, CN ?= ?ambit root CA cluster\.local/);
  t.regex(text, /Basic Constraints: critical\s+CA:TRUE/);
  t.regex(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  t.regex(text, /Subject Key Identifier/);
  t.regex(text, /URI:spiffe:\/\/cluster\.local\s/);
  t.regex(text, /ecdsa-with-SHA256/);
  t.regex(text, /prime256v1|P-256/);
  const years = (ca.root.cert.notAfter.getTime() - Date.now()) / (365 * 24 * 3600 * 1000);
  t.true(years > 9.9 && years < 10.1);
  t.is(ca.chain.length, 0);
  t.is(ca.signer, ca.root);
});

test('CSR → leaf: openssl verify -x509_strict accepts it for both TLS ends and shows the URI SAN', async (t) => {
  const ca = await createRootCA();
  const issuedAt = Date.now();
  const { issued } = await issueFor(ca, ID, 3600);
  t.is(issued.chainPem, issued.certPem, 'a root-signed leaf has no intermediates to send');
  const dir = await tempDir(t);
  const files = await writeFiles(dir, { 'root.pem': ca.root.pem, 'leaf.pem': issued.certPem });
  for (const purpose of ['sslserver', 'sslclient']) {
    const res = await openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', files['root.pem'], files['leaf.pem']]);
    t.is(res.code, 0, res.stderr + res.stdout);
    t.regex(res.stdout, /leaf\.pem: OK/);
  }
  const text = (await openssl(['x509', '-in', files['leaf.pem'], '-noout', '-text'])).stdout;
  t.regex(text, /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\s/);
  t.regex(text, /Basic Constraints: critical\s+CA:FALSE/);
  t.regex(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  t.regex(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(text, /Authority Key Identifier/);
  t.regex(text, /Subject: *\n/, 'the subject is empty, as X509-SVIDs allow');
  // notBefore is backdated a minute for clock skew, notAfter is now + ttl.
  t.true(Math.abs(issued.notBefore.getTime() - (issuedAt - 60_000)) < 2_000);
  t.true(Math.abs(issued.notAfter.getTime() - (issuedAt + 3_600_000)) < 2_000);
  t.regex(issued.serial, /^[0-9a-f]{30,32}$/);
  // Half life counts from when it was issued, not from the backdated notBefore.
  t.true(Math.abs(issued.renewAt.getTime() - (issuedAt + 1_800_000)) < 2_000);
});

test('serials are random and positive', async (t) => {
  const ca = await createRootCA();
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) serials.add((await issueFor(ca, ID)).issued.serial);
  t.is(serials.size, 20);
});

/** An operator's own root, made by openssl rather than by us. */
async function operatorRoot(dir: string, algorithm: 'ec' | 'rsa'): Promise<{ certPem: string; keyPem: string }> {
  const key = join(dir, 'org-root.key');
  const cert = join(dir, 'org-root.pem');
  const keyArgs = algorithm === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const res = await openssl([
    'req',
    '-x509',
    ...keyArgs,
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    '/O=Example Corp/CN=Example Root CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  if (res.code !== 0) throw new Error(res.stderr);
  return { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
}

for (const algorithm of ['ec', 'rsa'] as const) {
  test(`plug-in CA: an intermediate under an operator's ${algorithm} root issues leaves openssl verifies`, async (t) => {
    const dir = await tempDir(t);
    const org = await operatorRoot(dir, algorithm);
    const parent = await loadCA({ ...org, trustDomain: 'cluster.local' });
    const ca = await createIntermediateCA({ parent });
    t.is(ca.root.pem, parent.root.pem);
    const { issued } = await issueFor(ca, ID);
    const files = await writeFiles(dir, { 'int.pem': ca.signer.pem, 'leaf.pem': issued.certPem, 'chain.pem': issued.chainPem });
    const res = await openssl([
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'org-root.pem'),
      '-untrusted',
      files['int.pem'],
      files['leaf.pem'],
    ]);
    t.is(res.code, 0, res.stderr + res.stdout);
    const alone = await openssl(['verify', '-CAfile', join(dir, 'org-root.pem'), files['leaf.pem']]);
    t.not(alone.code, 0, 'without the intermediate the leaf does not verify');
    const text = (await openssl(['x509', '-in', files['int.pem'], '-noout', '-text'])).stdout;
    t.regex(text, /CA:TRUE, pathlen:0/);
    t.regex(text, /Issuer: O ?= ?Example Corp, CN ?= ?Example Root CA/);
    t.is(verifyPeerChain(issued.chainPem, bundleOf(ca)).spiffeId.uri, ID);
  });
}

test('leaves never outlive the CA that signs them', async (t) => {
  const root = await createRootCA();
  const ca = await createIntermediateCA({ parent: root, ttlSeconds: 120 });
  const { issued } = await issueFor(ca, ID, 3600);
  t.true(issued.clamped);
  t.is(issued.notAfter.getTime(), ca.signer.cert.notAfter.getTime());
  const short = await createIntermediateCA({ parent: root, ttlSeconds: 20 * 365 * 24 * 3600 });
  t.is(short.notAfter.getTime(), root.notAfter.getTime(), 'an intermediate is clamped to its root as well');
});

test('load errors say what is wrong: key mismatch, not a CA, expired, broken chain, missing file', async (t) => {
  const a = await createRootCA();
  const b = await createRootCA();
  const keyA = await exportPrivateKeyPem(a.keys.privateKey);
  const keyB = await exportPrivateKeyPem(b.keys.privateKey);
  t.is((await loadCA({ certPem: a.root.pem, keyPem: keyA })).root.pem, a.root.pem);
  await t.throwsAsync(loadCA({ certPem: a.root.pem, keyPem: keyB }), { code: 'EIDENTITY_KEY_MISMATCH', message: /does not belong/ });

  const leaf = await issueFor(a, ID);
  await t.throwsAsync(loadCA({ certPem: leaf.issued.certPem, keyPem: leaf.keyPem, rootPem: a.root.pem }), { code: 'EIDENTITY_NOT_CA' });

  const old = await createRootCA({ now: new Date(Date.now() - 7200_000), ttlSeconds: 3600 });
  await t.throwsAsync(loadCA({ certPem: old.root.pem, keyPem: await exportPrivateKeyPem(old.keys.privateKey) }), {
    code: 'EIDENTITY_CA_EXPIRED',
    message: /expired at/,
  });
  await t.throwsAsync(issueFor(old, ID), { code: 'EIDENTITY_CA_EXPIRED' });

  const int = await createIntermediateCA({ parent: a });
  const intKey = await exportPrivateKeyPem(int.keys.privateKey);
  await t.throwsAsync(loadCA({ certPem: int.signer.pem, keyPem: intKey }), { code: 'EIDENTITY_CHAIN_BROKEN', message: /pass the root/ });
  await t.throwsAsync(loadCA({ certPem: int.signer.pem, keyPem: intKey, rootPem: b.root.pem }), {
    code: 'EIDENTITY_CHAIN_BROKEN',
    message: /was not issued by/,
  });
  const loaded = await loadCA({ certPem: int.signer.pem, keyPem: intKey, rootPem: a.root.pem });
  t.is(loaded.chain.length, 1);
  t.is(loaded.trustDomain, 'cluster.local');
  await t.throwsAsync(loadCA({ certPem: int.signer.pem, keyPem: intKey, rootPem: a.root.pem, trustDomain: 'other.example' }), {
    code: 'EIDENTITY_WRONG_TRUST_DOMAIN',
  });
  await t.throwsAsync(loadCA({ certPem: 'garbage', keyPem: keyA }), { code: 'EIDENTITY_BAD_PEM' });
  await t.throwsAsync(loadCAFiles({ certFile: '/nonexistent/ca.pem', keyFile: '/nonexistent/ca.key' }), {
    code: 'EIDENTITY_FILE_NOT_FOUND',
    message: /CA certificate file/,
  });
});

test('writeCAFiles and loadCAFiles round-trip an intermediate CA; the key is 0600', async (t) => {
  const dir = await tempDir(t);
  const root = await createRootCA({ trustDomain: 'mesh.example' });
  const ca = await createIntermediateCA({ parent: root });
  const files = { certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), rootFile: join(dir, 'root.pem') };
  await writeCAFiles(ca, files);
  t.is((await stat(files.keyFile)).mode & 0o777, 0o600);
  t.is((await stat(files.certFile)).mode & 0o777, 0o644);
  await t.throwsAsync(writeCAFiles(ca, files), { code: 'EIDENTITY_FILE_EXISTS' });
  const loaded = await loadCAFiles(files);
  t.is(loaded.trustDomain, 'mesh.example');
  t.is(loaded.signer.pem, ca.signer.pem);
  const { issued } = await issueFor(loaded, 'spiffe://mesh.example/ambit/node/host-a');
  t.is(verifyPeerChain(issued.chainPem, bundleOf(root)).spiffeId.kind, 'node');
});
