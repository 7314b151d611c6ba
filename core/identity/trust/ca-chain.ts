/**
 * Whether a CA certificate (with its intermediates) chains to a root of a
 * trust bundle: the check behind a signed trust bundle, which is signed by a
 * CA key (the root itself, or a plug-in CA's intermediate, since an operator's
 * root key usually stays offline). verifyPeerChain is for leaves and refuses a
 * CA by design, so CA chains get this small walk of their own.
 */
import type { TrustBundle } from '../bundle.js';
import { isSigningCA, issuedBy, parseCert, parseCertChain, type ParsedCert } from '../certs.js';
import { IdentityError } from '../errors.js';
import { timeProblem } from '../validity.js';

const MAX_CHAIN = 8;

/** The SHA-256 fingerprint of the bundle root the chain ends at; EIDENTITY_UNTRUSTED when it ends at none. */
export function verifyCaChain(chainPem: string, bundle: TrustBundle, now = new Date()): string {
  const certs: ParsedCert[] = parseCertChain(chainPem, 'signing CA chain');
  if (certs.length === 0 || certs.length > MAX_CHAIN) throw untrusted(`a signing chain holds 1 to ${MAX_CHAIN} certificates, not ${certs.length}`);
  for (const c of certs) {
    if (!isSigningCA(c)) throw untrusted(`${c.cert.subject || 'certificate'} in the signing chain is not a CA`);
    const problem = timeProblem(c.cert.notBefore, c.cert.notAfter, now);
    if (problem) throw untrusted(`${c.cert.subject || 'certificate'} in the signing chain ${problem}`);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!issuedBy(certs[i]!, certs[i + 1]!)) throw untrusted(`${certs[i]!.cert.subject} was not issued by ${certs[i + 1]!.cert.subject}`);
  }
  const last = certs[certs.length - 1]!;
  for (const pem of bundle.roots) {
    const root = parseCert(pem, 'trust root');
    if (root.der.equals(last.der) || issuedBy(last, root)) return root.native.fingerprint256;
  }
  throw untrusted(`the signing chain (${last.cert.subject}) does not end at a root of the trusted bundle for ${bundle.trustDomain}`);
}

function untrusted(message: string): IdentityError {
  return new IdentityError('EIDENTITY_UNTRUSTED', message);
}
