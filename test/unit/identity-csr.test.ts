import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { webcrypto } from 'node:crypto';
import { createCsr, generateKeyPair, publicKeySpki, verifyCsr } from '../../core/identity/index.js';
import { x509 } from '../../core/identity/x509.js';
import { openssl, tempDir, writeFiles } from './identity-fixtures.js';

const TD = { trustDomain: 'cluster.local' };
const ID = 'spiffe://cluster.local/ns/default/sa/ratings';

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
}
function derToPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** A CSR with whatever SAN names a misbehaving or foreign client might send. */
async function rawCsr(
  names: { type: 'url' | 'dns'; value: string }[] | undefined,
  keyAlgorithm: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' },
): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    ...(names ? { extensions: [new x509.SubjectAlternativeNameExtension(names, true)] } : {}),
  });
  return csr.toString('pem');
}

test('a CSR round-trips: identity and public key come out as they went in', async (t) => {
  const keys = await generateKeyPair();
  const verified = await verifyCsr(await createCsr(ID, keys), { ...TD, expected: ID });
  t.is(verified.spiffeId.uri, ID);
  t.is(verified.spiffeId.kind, 'workload');
  t.deepEqual(Buffer.from(verified.publicKey), await publicKeySpki(keys.publicKey));
});

test('openssl accepts our CSR and sees the URI SAN in the extension request', async (t) => {
  const dir = await tempDir(t);
  const { csr } = await writeFiles(dir, { csr: await createCsr(ID, await generateKeyPair()) });
  const res = await openssl(['req', '-in', csr, '-verify', '-noout', '-text']);
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout + res.stderr, /verify OK/i);
  t.regex(res.stdout, /Requested Extensions:[\s\S]*Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings/);
});

test('a CSR made by openssl is accepted (interop with other clients)', async (t) => {
  const dir = await tempDir(t);
  await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'r.csr'),
    '-subj',
    '/',
    '-addext',
    `subjectAltName=critical,URI:${ID}`,
  ]);
  const verified = await verifyCsr(await readFile(join(dir, 'r.csr'), 'utf8'), TD);
  t.is(verified.spiffeId.uri, ID);
});

test('wrong trust domain is refused', async (t) => {
  const csr = await createCsr('spiffe://evil.example/ns/default/sa/ratings', await generateKeyPair());
  await t.throwsAsync(verifyCsr(csr, TD), { code: 'EIDENTITY_WRONG_TRUST_DOMAIN', message: /not in trust domain cluster\.local/ });
});

test('no SAN, two URI SANs, a DNS SAN, a trust-domain-only ID are refused', async (t) => {
  await t.throwsAsync(verifyCsr(await rawCsr(undefined), TD), { code: 'EIDENTITY_NO_SPIFFE_ID' });
  await t.throwsAsync(
    verifyCsr(
      await rawCsr([
        { type: 'url', value: ID },
        { type: 'url', value: `${ID}2` },
      ]),
      TD,
    ),
    { code: 'EIDENTITY_MULTIPLE_URI_SANS' },
  );
  await t.throwsAsync(
    verifyCsr(
      await rawCsr([
        { type: 'url', value: ID },
        { type: 'dns', value: 'ratings.default.svc' },
      ]),
      TD,
    ),
    { code: 'EIDENTITY_CSR_UNEXPECTED_SAN', message: /dns:ratings\.default\.svc/ },
  );
  await t.throwsAsync(verifyCsr(await rawCsr([{ type: 'url', value: 'spiffe://cluster.local' }]), TD), {
    code: 'EIDENTITY_INVALID_SPIFFE_ID',
    message: /names a trust domain/,
  });
  await t.throwsAsync(verifyCsr(await rawCsr([{ type: 'url', value: 'https://cluster.local/ns/a/sa/b' }]), TD), { code: 'EIDENTITY_INVALID_SPIFFE_ID' });
});

test('a tampered CSR fails its signature: a flipped signature byte, or an edited identity', async (t) => {
  const der = pemToDer(await createCsr(ID, await generateKeyPair()));
  const badSig = Buffer.from(der);
  badSig[badSig.length - 1]! ^= 0x01;
  await t.throwsAsync(verifyCsr(derToPem(badSig), TD), { code: 'EIDENTITY_CSR_SIGNATURE' });
  // Rewrite "sa/ratings" to "sa/ratingz" inside the signed part: same length, still parses.
  const at = der.indexOf(Buffer.from('sa/ratings'));
  t.true(at > 0);
  const edited = Buffer.from(der);
  edited[at + 'sa/ratings'.length - 1] = 'z'.charCodeAt(0);
  await t.throwsAsync(verifyCsr(derToPem(edited), TD), { code: 'EIDENTITY_CSR_SIGNATURE' });
});

test('expected identity, key type and garbage are checked', async (t) => {
  const csr = await createCsr(ID, await generateKeyPair());
  await t.throwsAsync(verifyCsr(csr, { ...TD, expected: 'spiffe://cluster.local/ns/default/sa/other' }), { code: 'EIDENTITY_CSR_IDENTITY_MISMATCH' });
  await t.throwsAsync(verifyCsr(await rawCsr([{ type: 'url', value: ID }], { name: 'ECDSA', namedCurve: 'P-384' }), TD), {
    code: 'EIDENTITY_UNSUPPORTED_KEY',
    message: /P-384/,
  });
  await t.throwsAsync(verifyCsr('hello', TD), { code: 'EIDENTITY_CSR_INVALID' });
  await t.throwsAsync(verifyCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', TD), { code: 'EIDENTITY_CSR_INVALID' });
  await t.throwsAsync(verifyCsr(csr + ' '.repeat(20_000), TD), { code: 'EIDENTITY_CSR_INVALID', message: /larger than/ });
});
