import { NotFoundError } from '../errors.js';
import type { SigningCA } from './ca.js';
import { isSigningCA, parseCert, parseCertChain, type ParsedCert } from './certs.js';
import { IdentityError } from './errors.js';
import { assertTrustDomain } from './spiffe.js';

/**
 * The roots a trust domain's peers are verified against. Normally one; two
 * while a root rotates (new root distributed first, then leaves re-issued
 * under it, then the old root removed). Bundles are immutable values: the
 * functions here return new ones, so a verifier can cache per bundle.
 */
export interface TrustBundle {
  readonly trustDomain: string;
  /** PEM, one certificate each, in the order they were added. */
  readonly roots: readonly string[];
}

/** Old and new root during a rotation; a third means a rotation was never finished. */
export const MAX_ROOTS = 2;

function checkRoot(root: ParsedCert): void {
  if (!isSigningCA(root)) {
    throw new IdentityError('EIDENTITY_NOT_CA', `${root.cert.subject || 'certificate'} is not a CA certificate and cannot be a trust root`, {
      subject: root.cert.subject,
    });
  }
}

export function rootFingerprint(pem: string): string {
  return parseCert(pem, 'trust root').native.fingerprint256;
}

export function createBundle(trustDomain: string, rootPems: readonly string[], maxRoots = MAX_ROOTS): TrustBundle {
  assertTrustDomain(trustDomain);
  const roots: ParsedCert[] = [];
  for (const pem of rootPems) {
    for (const root of parseCertChain(pem, 'trust root')) {
      checkRoot(root);
      if (!roots.some((r) => r.der.equals(root.der))) roots.push(root);
    }
  }
  if (roots.length === 0) throw new IdentityError('EIDENTITY_BUNDLE_EMPTY', `trust bundle for ${trustDomain} has no roots`, { trustDomain });
  if (roots.length > maxRoots) {
    throw new IdentityError(
      'EIDENTITY_BUNDLE_FULL',
      `trust bundle for ${trustDomain} would hold ${roots.length} roots (at most ${maxRoots}); remove the old root to finish the previous rotation first`,
      { trustDomain, count: roots.length },
    );
  }
  return Object.freeze({ trustDomain, roots: Object.freeze(roots.map((r) => r.pem)) });
}

/** The bundle a CA's leaves verify against. */
export function bundleOf(ca: SigningCA): TrustBundle {
  return createBundle(ca.trustDomain, [ca.root.pem]);
}

/** Adds a root (start of a rotation); adding one already present changes nothing. */
export function addRoot(bundle: TrustBundle, rootPem: string, maxRoots = MAX_ROOTS): TrustBundle {
  return createBundle(bundle.trustDomain, [...bundle.roots, rootPem], maxRoots);
}

/** Removes a root by PEM or SHA-256 fingerprint (end of a rotation). The last root cannot go. */
export function removeRoot(bundle: TrustBundle, rootPemOrFingerprint: string): TrustBundle {
  const wanted = rootPemOrFingerprint.includes('-----BEGIN') ? rootFingerprint(rootPemOrFingerprint) : rootPemOrFingerprint.toUpperCase();
  const kept = bundle.roots.filter((pem) => rootFingerprint(pem) !== wanted);
  if (kept.length === bundle.roots.length) throw new NotFoundError(`root ${wanted} in the trust bundle for ${bundle.trustDomain}`, { fingerprint: wanted });
  if (kept.length === 0) {
    throw new IdentityError(
      'EIDENTITY_BUNDLE_EMPTY',
      `refusing to remove the only root of the trust bundle for ${bundle.trustDomain}: add the new root first`,
      { fingerprint: wanted },
    );
  }
  return createBundle(bundle.trustDomain, kept);
}

/** All roots as one PEM text: the `ca` option of node:tls, or a CAfile for openssl. */
export function bundlePem(bundle: TrustBundle): string {
  return bundle.roots.join('');
}

/** The stored form: JSON, so the store and `ambit ca` read it without PEM splitting. */
export function serializeBundle(bundle: TrustBundle): string {
  return JSON.stringify({ trustDomain: bundle.trustDomain, roots: bundle.roots });
}

export function parseBundle(text: string): TrustBundle {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new IdentityError('EIDENTITY_BUNDLE_INVALID', `trust bundle is not JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  const { trustDomain, roots } = (data ?? {}) as { trustDomain?: unknown; roots?: unknown };
  if (typeof trustDomain !== 'string' || !Array.isArray(roots) || !roots.every((r) => typeof r === 'string')) {
    throw new IdentityError('EIDENTITY_BUNDLE_INVALID', 'trust bundle must be {"trustDomain": string, "roots": [PEM string, ...]}', {});
  }
  return createBundle(trustDomain, roots);
}
