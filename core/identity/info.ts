import { parseCertChain, isSigningCA, spiffeIdFromSan } from './certs.js';
import { IdentityError } from './errors.js';
import { renewalTime } from './validity.js';
import { x509 } from './x509.js';

/** What `ambit certs` and the admin API show for a certificate. */
export interface CertInfo {
  /** The URI SAN when it is one valid SPIFFE ID; undefined otherwise (e.g. an operator's root). */
  readonly spiffeId: string | undefined;
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex without leading zero byte. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Half life, when a holder renews it (see renewalTime). */
  readonly renewAt: Date;
  /** Seconds until notAfter; negative once expired, so a table can say how long ago. */
  readonly remainingSeconds: number;
  /** SHA-256 of the DER, colon-separated uppercase hex (as `openssl x509 -fingerprint -sha256`). */
  readonly fingerprint: string;
  readonly isCA: boolean;
}

/** Describes the first certificate of a PEM text (a chain's leaf). */
export function certInfo(pem: string, now: Date = new Date()): CertInfo {
  const first = parseCertChain(pem)[0];
  if (!first) throw new IdentityError('EIDENTITY_BAD_PEM', 'no PEM certificate found', {});
  let spiffeId: string | undefined;
  try {
    spiffeId = spiffeIdFromSan(first.cert.getExtension(x509.SubjectAlternativeNameExtension), 'certificate').uri;
  } catch {
    spiffeId = undefined;
  }
  return {
    spiffeId,
    subject: first.cert.subject,
    issuer: first.cert.issuer,
    serial: first.cert.serialNumber,
    notBefore: first.cert.notBefore,
    notAfter: first.cert.notAfter,
    renewAt: renewalTime(first.cert.notBefore, first.cert.notAfter),
    remainingSeconds: Math.floor((first.cert.notAfter.getTime() - now.getTime()) / 1000),
    fingerprint: first.native.fingerprint256,
    isCA: isSigningCA(first),
  };
}
