import { IdentityError } from './errors.js';
import { spiffeIdFromSan } from './certs.js';
import { parseSpiffeId, type SpiffeId } from './spiffe.js';
import { toPem, x509, type CryptoKeyPair } from './x509.js';

/**
 * PKCS#10 requests carry a key's public half from the host that made it to
 * the signer, so private keys never leave their host. The request names the
 * SPIFFE ID in a URI SAN inside the extensionRequest attribute; the subject
 * is left empty, as in the certificates we issue.
 */
export async function createCsr(spiffeId: SpiffeId | string, keys: CryptoKeyPair): Promise<string> {
  const id = typeof spiffeId === 'string' ? parseSpiffeId(spiffeId) : spiffeId;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    // Critical because the subject is empty (RFC 5280 4.2.1.6).
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id.uri }], true)],
  });
  return toPem(csr.rawData, 'CERTIFICATE REQUEST');
}

declare const verifiedBrand: unique symbol;

/**
 * A CSR whose signature and identity have been checked. Only verifyCsr
 * makes these, so the signer cannot be handed an unchecked request.
 */
export interface VerifiedCsr {
  readonly spiffeId: SpiffeId;
  /** DER SubjectPublicKeyInfo of the requester's key. */
  readonly publicKey: Uint8Array;
  readonly [verifiedBrand]: true;
}

export interface VerifyCsrOptions {
  /** The trust domain this signer issues for. */
  trustDomain: string;
  /** When the caller knows which identity is being asked for (e.g. the node's own). */
  expected?: SpiffeId | string;
}

// A P-256 CSR is ~300 bytes of PEM; anything this large is not one of ours
// and is refused before any ASN.1 parsing.
const MAX_CSR_PEM_BYTES = 16 * 1024;

function refuse(code: 'EIDENTITY_CSR_INVALID' | 'EIDENTITY_CSR_SIGNATURE' | 'EIDENTITY_CSR_UNEXPECTED_SAN', message: string, cause?: unknown): IdentityError {
  return new IdentityError(code, `CSR refused: ${message}`, {}, cause === undefined ? undefined : { cause });
}

function parseCsr(pem: string): x509.Pkcs10CertificateRequest {
  if (pem.length > MAX_CSR_PEM_BYTES) throw refuse('EIDENTITY_CSR_INVALID', `larger than ${MAX_CSR_PEM_BYTES} bytes`);
  if (!/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem)) throw refuse('EIDENTITY_CSR_INVALID', 'not a PEM certificate request');
  try {
    return new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw refuse('EIDENTITY_CSR_INVALID', `unreadable: ${(err as Error).message}`, err);
  }
}

function requestedSan(csr: x509.Pkcs10CertificateRequest): x509.SubjectAlternativeNameExtension | null {
  let sans: x509.SubjectAlternativeNameExtension[];
  try {
    sans = csr.extensions.filter((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  } catch (err) {
    throw refuse('EIDENTITY_CSR_INVALID', `unreadable extensions: ${(err as Error).message}`, err);
  }
  if (sans.length > 1) throw refuse('EIDENTITY_CSR_INVALID', 'more than one subjectAltName extension');
  const san = sans[0] ?? null;
  const other = san?.names.items.find((n) => n.type !== 'url');
  // The signer only ever issues the SPIFFE ID; dropping other names quietly
  // would hand the requester a certificate unlike the one it asked for.
  if (other) throw refuse('EIDENTITY_CSR_UNEXPECTED_SAN', `subjectAltName ${other.type}:${other.value} is not allowed; only the SPIFFE ID URI is issued`);
  return san;
}

/**
 * Checks a CSR before anything is issued for it: readable, signed by the key
 * it carries (proof of possession), an ECDSA P-256 key, and exactly one URI
 * SAN that is a leaf SPIFFE ID (non-empty path) in `trustDomain`. Whether
 * the requester may hold that identity is the signer's decision, made on
 * the returned `spiffeId`.
 */
export async function verifyCsr(pem: string, options: VerifyCsrOptions): Promise<VerifiedCsr> {
  const csr = parseCsr(pem);
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new IdentityError(
      'EIDENTITY_UNSUPPORTED_KEY',
      `CSR refused: key is ${algorithm.name} ${algorithm.namedCurve ?? ''}, only ECDSA P-256 is issued`.trim(),
      { algorithm },
    );
  }
  let signed: boolean;
  try {
    signed = await csr.verify();
  } catch (err) {
    throw refuse('EIDENTITY_CSR_SIGNATURE', `signature cannot be checked: ${(err as Error).message}`, err);
  }
  if (!signed) throw refuse('EIDENTITY_CSR_SIGNATURE', 'signature does not verify with the key in the request');

  const spiffeId = spiffeIdFromSan(requestedSan(csr), 'CSR');
  if (spiffeId.path === '') {
    throw new IdentityError('EIDENTITY_INVALID_SPIFFE_ID', `CSR refused: ${spiffeId.uri} names a trust domain, not a workload or node`, {
      spiffeId: spiffeId.uri,
    });
  }
  if (spiffeId.trustDomain !== options.trustDomain) {
    throw new IdentityError('EIDENTITY_WRONG_TRUST_DOMAIN', `CSR refused: ${spiffeId.uri} is not in trust domain ${options.trustDomain}`, {
      spiffeId: spiffeId.uri,
      trustDomain: options.trustDomain,
    });
  }
  if (options.expected !== undefined) {
    const expected = typeof options.expected === 'string' ? options.expected : options.expected.uri;
    if (expected !== spiffeId.uri) {
      throw new IdentityError('EIDENTITY_CSR_IDENTITY_MISMATCH', `CSR refused: asks for ${spiffeId.uri}, expected ${expected}`, {
        spiffeId: spiffeId.uri,
        expected,
      });
    }
  }
  return { spiffeId, publicKey: new Uint8Array(csr.publicKey.rawData) } as VerifiedCsr;
}
