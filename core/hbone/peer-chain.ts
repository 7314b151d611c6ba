/**
 * OpenSSL verifies an HBONE peer's chain against the roots in `ca`, and that
 * is all it verifies: a certificate the mesh CA signed for another trust
 * domain, a CA certificate presented as a leaf, a leaf without a SPIFFE ID
 * all pass it. Both ends of HBONE therefore also run core/identity's
 * verifyPeerChain, after OpenSSL and before any stream, against the bundle of
 * their own TLS identity: the roots it trusts (`ca`) and the trust domain of
 * its own certificate. ambit has no trust-domain aliases or federation, so
 * that one trust domain is the only one accepted.
 *
 * The bundle is derived from the identity object and cached with it: the
 * daemon hands over a new object on every rotation of certificate or bundle,
 * so a verification always uses the bundle that identity carries now.
 */
import type { DetailedPeerCertificate } from 'node:tls';
import { createBundle, type TrustBundle } from '../identity/bundle.js';
import { parseCertChain, spiffeIdFromSan } from '../identity/certs.js';
import { IdentityError } from '../identity/errors.js';
import { verifyPeerChain, type VerifiedPeer } from '../identity/verify.js';
import { x509 } from '../identity/x509.js';
import type { TlsIdentity } from './tls-identity.js';

const bundles = new WeakMap<TlsIdentity, TrustBundle>();

const text = (pem: string | Buffer): string => (typeof pem === 'string' ? pem : pem.toString('utf8'));

/**
 * The trust bundle `identity` verifies peers against. Throws (IdentityError)
 * when its own certificate carries no SPIFFE ID or `ca` holds no CA: such an
 * identity could not tell a mesh peer from any other, so it is refused where
 * it is adopted rather than on every handshake.
 */
export function localBundle(identity: TlsIdentity): TrustBundle {
  let bundle = bundles.get(identity);
  if (!bundle) {
    const [own] = parseCertChain(text(identity.cert), 'own HBONE certificate');
    if (!own) throw new IdentityError('EIDENTITY_BAD_PEM', 'the HBONE identity has no certificate');
    const spiffeId = spiffeIdFromSan(own.cert.getExtension(x509.SubjectAlternativeNameExtension), 'own HBONE certificate');
    const roots = (Array.isArray(identity.ca) ? identity.ca : [identity.ca]).map(text);
    // Whatever node:tls was given as `ca` is trusted; the rotation limit of stored bundles is not this layer's to enforce.
    bundle = createBundle(spiffeId.trustDomain, roots, Number.MAX_SAFE_INTEGER);
    bundles.set(identity, bundle);
  }
  return bundle;
}

/**
 * The verified peer, or why it is refused (an IdentityError whose code is the
 * reason counted in ambit_tls_handshake_failures_total). Never throws: it
 * runs inside node:tls and node:http2 callbacks, and a check that cannot
 * decide refuses.
 */
export function verifyHbonePeer(cert: DetailedPeerCertificate, identity: TlsIdentity, purpose: 'client' | 'server'): VerifiedPeer | IdentityError {
  try {
    if (!cert?.raw?.length) return new IdentityError('EIDENTITY_UNTRUSTED', 'the peer presented no certificate');
    return verifyPeerChain(cert, localBundle(identity), { purpose });
  } catch (err) {
    if (err instanceof IdentityError) return err;
    return new IdentityError('EIDENTITY_UNTRUSTED', `peer certificate could not be verified: ${(err as Error).message}`, {}, { cause: err });
  }
}
