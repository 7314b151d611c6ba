import { X509Certificate as NodeX509 } from 'node:crypto';
import { IdentityError } from './errors.js';
import { parseSpiffeId, type SpiffeId } from './spiffe.js';
import { splitPemCerts, toPem, x509 } from './x509.js';

/**
 * A certificate parsed twice: @peculiar/x509 reads the extensions we
 * generate and check, Node's own X509Certificate does issuer matching and
 * signature checks synchronously in OpenSSL, which matters on the inbound
 * path where every new HBONE connection verifies a chain.
 */
export interface ParsedCert {
  readonly der: Buffer;
  readonly pem: string;
  readonly cert: x509.X509Certificate;
  readonly native: NodeX509;
}

export type CertInput = string | Uint8Array;

/** Parses one certificate from PEM or DER; EIDENTITY_BAD_PEM when it is neither. */
export function parseCert(input: CertInput, role = 'certificate'): ParsedCert {
  let der: Buffer;
  if (typeof input === 'string') {
    const blocks = splitPemCerts(input);
    if (blocks.length !== 1) {
      throw new IdentityError('EIDENTITY_BAD_PEM', `${role}: expected one PEM certificate, found ${blocks.length}`, { role });
    }
    der = Buffer.from(blocks[0]!.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  } else {
    der = Buffer.from(input);
  }
  try {
    const native = new NodeX509(der);
    const cert = new x509.X509Certificate(der);
    return { der, pem: toPem(der, 'CERTIFICATE'), cert, native };
  } catch (err) {
    throw new IdentityError('EIDENTITY_BAD_PEM', `${role}: not a valid X.509 certificate: ${(err as Error).message}`, { role }, { cause: err });
  }
}

/** Every certificate of a PEM text (a chain or bundle file), in file order. */
export function parseCertChain(pem: string, role = 'certificate chain'): ParsedCert[] {
  return splitPemCerts(pem).map((block, i) => parseCert(block, `${role} [${i}]`));
}

export function basicConstraints(c: ParsedCert): x509.BasicConstraintsExtension | null {
  return c.cert.getExtension(x509.BasicConstraintsExtension);
}

/** KeyUsageFlags of the cert, or undefined when the extension is absent. */
export function keyUsage(c: ParsedCert): number | undefined {
  return c.cert.getExtension(x509.KeyUsagesExtension)?.usages;
}

/** A CA that may sign: cA set and, if key usage is given, keyCertSign in it. */
export function isSigningCA(c: ParsedCert): boolean {
  const usage = keyUsage(c);
  return basicConstraints(c)?.ca === true && (usage === undefined || (usage & x509.KeyUsageFlags.keyCertSign) !== 0);
}

/** True when `parent`'s key signed `child` and the names/key ids link up. */
export function issuedBy(child: ParsedCert, parent: ParsedCert): boolean {
  try {
    return child.native.checkIssued(parent.native) && child.native.verify(parent.native.publicKey);
  } catch {
    return false;
  }
}

export function isSelfSigned(c: ParsedCert): boolean {
  return issuedBy(c, c);
}

/**
 * The SPIFFE ID in a SAN extension. The X509-SVID standard demands exactly
 * one URI SAN: a second one makes authorization ambiguous, so it is refused.
 */
export function spiffeIdFromSan(san: x509.SubjectAlternativeNameExtension | null, what: string): SpiffeId {
  const uris = san?.names.items.filter((n) => n.type === 'url').map((n) => n.value) ?? [];
  if (uris.length === 0) {
    throw new IdentityError('EIDENTITY_NO_SPIFFE_ID', `${what} has no URI SAN, so it carries no SPIFFE ID`, { what });
  }
  if (uris.length > 1) {
    throw new IdentityError('EIDENTITY_MULTIPLE_URI_SANS', `${what} has ${uris.length} URI SANs; an SVID must have exactly one`, { what, uris });
  }
  return parseSpiffeId(uris[0]!);
}

/**
 * The key identifier a child should name in its authorityKeyIdentifier: the
 * parent's own subjectKeyIdentifier when it has one (an operator's root may
 * have computed it differently from us), else derived from its key.
 */
export async function authorityKeyIdFor(parent: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = parent.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(parent.publicKey);
}
