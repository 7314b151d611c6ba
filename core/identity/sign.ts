import type { SigningCA } from './ca.js';
import { authorityKeyIdFor } from './certs.js';
import type { VerifiedCsr } from './csr.js';
import type { SpiffeId } from './spiffe.js';
import { randomSerialHex, renewalTime, validityWindow } from './validity.js';
import { toPem, x509 } from './x509.js';

export interface IssueOptions {
  /** Lifetime in seconds; short (hours) in production, seconds in tests. */
  ttlSeconds: number;
  now?: Date;
}

export interface IssuedCertificate {
  readonly spiffeId: SpiffeId;
  /** The leaf alone. */
  readonly certPem: string;
  /** Leaf then intermediates, without the root: what a TLS endpoint sends as `cert`. */
  readonly chainPem: string;
  /** Lowercase hex, as certInfo reports it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Half life: when the holder should ask for the next one. */
  readonly renewAt: Date;
  /** notAfter was cut short to the CA's own expiry; the CA needs rotating soon. */
  readonly clamped: boolean;
}

/**
 * The extensions of every X509-SVID leaf, per the SPIFFE X509-SVID standard:
 * not a CA; digitalSignature (keyEncipherment too, as Istio sets it, for
 * stacks that still expect it); usable for both ends of mTLS; the SPIFFE ID
 * as the only name, critical because the subject is empty.
 */
function leafExtensions(id: SpiffeId): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id.uri }], true),
  ];
}

/** Signs a leaf certificate for a verified CSR. Requested extensions are not copied: the signer decides them all. */
export async function issueCertificate(ca: SigningCA, csr: VerifiedCsr, options: IssueOptions): Promise<IssuedCertificate> {
  const window = validityWindow(options.ttlSeconds, options.now ?? new Date(), ca.notAfter);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    issuer: ca.signer.cert.subjectName,
    notBefore: window.notBefore,
    notAfter: window.notAfter,
    publicKey: csr.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [...leafExtensions(csr.spiffeId), await x509.SubjectKeyIdentifierExtension.create(csr.publicKey), await authorityKeyIdFor(ca.signer.cert)],
  });
  const certPem = toPem(leaf.rawData, 'CERTIFICATE');
  return {
    spiffeId: csr.spiffeId,
    certPem,
    chainPem: certPem + ca.chain.map((c) => c.pem).join(''),
    serial: leaf.serialNumber,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    renewAt: renewalTime(leaf.notBefore, leaf.notAfter),
    clamped: window.clamped,
  };
}
