import { X509Certificate } from 'node:crypto';
import test from 'ava';
import {
  addRoot,
  bundleOf,
  certInfo,
  createBundle,
  createIntermediateCA,
  createRootCA,
  removeRoot,
  verifyPeerChain,
  type PeerCertLike,
  type SigningCA,
} from '../../core/identity/index.js';
import { x509 } from '../../core/identity/x509.js';
import { issueFor, openssl, tempDir, writeFiles } from './identity-fixtures.js';

const ID = 'spiffe://cluster.local/ns/default/sa/productpage';
const der = (pem: string): Buffer => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');

test('a chain verifies from every input shape and yields the SPIFFE ID', async (t) => {
  const root = await createRootCA();
  const ca = await createIntermediateCA({ parent: root });
  const { issued } = await issueFor(ca, ID);
  const bundle = bundleOf(root);
  const [leafPem, intPem] = [issued.certPem, ca.signer.pem];
  const linked: PeerCertLike = { raw: der(leafPem), issuerCertificate: { raw: der(intPem) } };
  const inputs = [issued.chainPem, [leafPem, intPem], [der(leafPem), der(intPem)], linked, issued.chainPem + root.root.pem];
  for (const input of inputs) {
    const peer = verifyPeerChain(input, bundle);
    t.like(peer.spiffeId, { uri: ID, kind: 'workload', namespace: 'default', serviceAccount: 'productpage' });
    t.is(peer.serial, issued.serial);
    t.is(peer.pathLength, 3);
  }
});

test('a node:tls-style chain whose root points at itself terminates', async (t) => {
  const ca = await createRootCA();
  const { issued } = await issueFor(ca, ID);
  const rootCert: { raw: Buffer; issuerCertificate?: unknown } = { raw: der(ca.root.pem) };
  rootCert.issuerCertificate = rootCert;
  const leaf = { raw: der(issued.certPem), issuerCertificate: rootCert as PeerCertLike };
  t.is(verifyPeerChain(leaf, bundleOf(ca)).spiffeId.uri, ID);
  t.is(verifyPeerChain(new X509Certificate(issued.certPem), bundleOf(ca)).spiffeId.uri, ID, "Node's X509Certificate has .raw too");
});

test('a leaf from another CA is untrusted, even when that CA has the same name', async (t) => {
  const ours = await createRootCA();
  const theirs = await createRootCA();
  t.is(ours.root.cert.subject, theirs.root.cert.subject);
  const { issued } = await issueFor(theirs, ID);
  t.throws(() => verifyPeerChain(issued.chainPem, bundleOf(ours)), { code: 'EIDENTITY_UNTRUSTED', message: /does not chain to a root/ });
  t.throws(() => verifyPeerChain(issued.chainPem + theirs.root.pem, bundleOf(ours)), { code: 'EIDENTITY_UNTRUSTED' }, 'sending your own root does not help');
  t.throws(() => verifyPeerChain([], bundleOf(ours)), { code: 'EIDENTITY_UNTRUSTED', message: /no certificate/ });
});

test('a missing intermediate, or an intermediate beyond pathLen 0, is untrusted', async (t) => {
  const root = await createRootCA();
  const int = await createIntermediateCA({ parent: root });
  const { issued } = await issueFor(int, ID);
  t.throws(() => verifyPeerChain(issued.certPem, bundleOf(root)), { code: 'EIDENTITY_UNTRUSTED' });
  // A distinct name: a self-issued CA (same subject as its issuer) does not count towards pathLen (RFC 5280 6.1.4).
  const nested = await createIntermediateCA({ parent: int, commonName: 'nested CA' });
  const deep = await issueFor(nested, ID);
  t.throws(() => verifyPeerChain(deep.issued.chainPem, bundleOf(root)), { code: 'EIDENTITY_UNTRUSTED', message: /allows 0 intermediate CAs/ });
  const dir = await tempDir(t);
  const files = await writeFiles(dir, { root: root.root.pem, chain: nested.chain.map((c) => c.pem).join(''), leaf: deep.issued.certPem });
  t.not((await openssl(['verify', '-CAfile', files.root, '-untrusted', files.chain, files.leaf])).code, 0, 'openssl agrees');
});

test('expiry and not-yet-valid are checked against the injected clock', async (t) => {
  const ca = await createRootCA();
  const { issued } = await issueFor(ca, ID, 60);
  const bundle = bundleOf(ca);
  t.is(verifyPeerChain(issued.chainPem, bundle).spiffeId.uri, ID);
  t.throws(() => verifyPeerChain(issued.chainPem, bundle, { now: new Date(issued.notAfter.getTime() + 1000) }), {
    code: 'EIDENTITY_EXPIRED',
    message: /expired at/,
  });
  t.throws(() => verifyPeerChain(issued.chainPem, bundle, { now: new Date(issued.notBefore.getTime() - 1000) }), {
    code: 'EIDENTITY_EXPIRED',
    message: /not valid before/,
  });
  t.throws(() => verifyPeerChain(issued.chainPem, bundle, { now: new Date(Date.now() + 11 * 365 * 86400_000) }), { code: 'EIDENTITY_EXPIRED' });
});

test('a bundle with two roots accepts leaves of both; removing the old root ends the rotation', async (t) => {
  const oldRoot = await createRootCA();
  const newRoot = await createRootCA();
  const before = (await issueFor(oldRoot, ID)).issued;
  const after = (await issueFor(newRoot, ID)).issued;
  const rotating = addRoot(bundleOf(oldRoot), newRoot.root.pem);
  t.is(rotating.roots.length, 2);
  t.is(verifyPeerChain(before.chainPem, rotating).spiffeId.uri, ID);
  t.is(verifyPeerChain(after.chainPem, rotating).spiffeId.uri, ID);
  const done = removeRoot(rotating, oldRoot.root.pem);
  t.throws(() => verifyPeerChain(before.chainPem, done), { code: 'EIDENTITY_UNTRUSTED' });
  t.is(verifyPeerChain(after.chainPem, done).spiffeId.uri, ID);
});

test('a leaf of another trust domain is refused even when its CA is trusted', async (t) => {
  const foreign = await createRootCA({ trustDomain: 'other.example' });
  const { issued } = await issueFor(foreign, 'spiffe://other.example/ns/default/sa/productpage');
  const bundle = createBundle('cluster.local', [foreign.root.pem]);
  t.throws(() => verifyPeerChain(issued.chainPem, bundle), { code: 'EIDENTITY_WRONG_TRUST_DOMAIN', message: /not in trust domain cluster\.local/ });
});

/** A certificate our signer would never issue, signed by a trusted CA. */
async function oddLeaf(ca: SigningCA, extensions: x509.Extension[]): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    issuer: ca.signer.cert.subjectName,
    subject: 'CN=odd',
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey), ...extensions],
  });
  return cert.toString('pem');
}

test('no SPIFFE ID, two URI SANs, a CA as leaf, unknown critical extensions are refused', async (t) => {
  const ca = await createRootCA();
  const bundle = bundleOf(ca);
  const verifyWith = (pem: string) => () => verifyPeerChain(pem, bundle);
  t.throws(verifyWith(ca.root.pem), { code: 'EIDENTITY_NOT_LEAF' });
  t.throws(verifyWith(await oddLeaf(ca, [])), { code: 'EIDENTITY_NO_SPIFFE_ID' });
  const dns = new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'productpage' }]);
  t.throws(verifyWith(await oddLeaf(ca, [dns])), { code: 'EIDENTITY_NO_SPIFFE_ID' });
  const two = new x509.SubjectAlternativeNameExtension([
    { type: 'url', value: ID },
    { type: 'url', value: `${ID}-2` },
  ]);
  t.throws(verifyWith(await oddLeaf(ca, [two])), { code: 'EIDENTITY_MULTIPLE_URI_SANS' });
  const san = new x509.SubjectAlternativeNameExtension([{ type: 'url', value: ID }]);
  const signer = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true);
  t.throws(verifyWith(await oddLeaf(ca, [san, signer])), { code: 'EIDENTITY_NOT_LEAF' });
  const critical = new x509.Extension('1.2.3.4.5', true, new Uint8Array([5, 0]));
  t.throws(verifyWith(await oddLeaf(ca, [san, critical])), { code: 'EIDENTITY_UNTRUSTED', message: /critical extension 1\.2\.3\.4\.5/ });
  t.is(verifyPeerChain(await oddLeaf(ca, [san]), bundle).spiffeId.uri, ID, 'a minimal but valid SVID from elsewhere passes');
});

test('certInfo reports what openssl reports', async (t) => {
  const ca = await createRootCA();
  const { issued } = await issueFor(ca, ID, 600);
  const now = new Date();
  const info = certInfo(issued.chainPem, now);
  t.is(info.spiffeId, ID);
  t.is(info.serial, issued.serial);
  t.is(info.issuer, 'O=ambit, CN=ambit root CA cluster.local');
  t.false(info.isCA);
  t.true(info.remainingSeconds > 590 && info.remainingSeconds <= 600);
  t.is(info.renewAt.getTime(), issued.renewAt.getTime());
  const dir = await tempDir(t);
  const { leaf } = await writeFiles(dir, { leaf: issued.certPem });
  const out = (await openssl(['x509', '-in', leaf, '-noout', '-fingerprint', '-sha256', '-serial'])).stdout;
  t.true(out.includes(`Fingerprint=${info.fingerprint}`), out);
  t.is(BigInt(`0x${/serial=([0-9A-F]+)/.exec(out)![1]}`), BigInt(`0x${info.serial}`));
  const rootInfo = certInfo(ca.root.pem);
  t.true(rootInfo.isCA);
  t.is(rootInfo.spiffeId, 'spiffe://cluster.local');
  t.throws(() => certInfo('nothing'), { code: 'EIDENTITY_BAD_PEM' });
});

test('with a purpose, a leaf whose extended key usage does not allow that TLS role is refused', async (t) => {
  const ca = await createRootCA();
  const bundle = bundleOf(ca);
  const san = new x509.SubjectAlternativeNameExtension([{ type: 'url', value: ID }]);
  const serverOnly = await oddLeaf(ca, [san, new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])]);
  t.throws(() => verifyPeerChain(serverOnly, bundle, { purpose: 'client' }), { code: 'EIDENTITY_WRONG_PURPOSE', message: /TLS client/ });
  t.is(verifyPeerChain(serverOnly, bundle, { purpose: 'server' }).spiffeId.uri, ID);
  t.is(verifyPeerChain(serverOnly, bundle).spiffeId.uri, ID, 'without a purpose EKU is not looked at');
  t.is(verifyPeerChain(await oddLeaf(ca, [san]), bundle, { purpose: 'client' }).spiffeId.uri, ID, 'no EKU allows every purpose');
  const { issued } = await issueFor(ca, ID);
  for (const purpose of ['client', 'server'] as const)
    t.is(verifyPeerChain(issued.chainPem, bundle, { purpose }).spiffeId.uri, ID, `ambit's leaves: ${purpose}`);
});
