/**
 * What `ambit ca show` prints: the mesh root as an operator hands it out of
 * band, read from the CA directory (never from the store, which a node must
 * not have to believe). The fingerprint to pin is the root whose key signs the
 * published trust bundle: the current root, or mid-rotation the old one, which
 * signed old + new (ca-admin.ts), the same root a token minted now carries.
 */
import { loadCADir, loadPreviousCA } from './ca-dir.js';
import type { SigningCA } from './ca.js';

export interface RootDescription {
  readonly subject: string;
  /** SHA-256, colon-separated upper case (as `openssl x509 -fingerprint -sha256`). */
  readonly fingerprint: string;
  readonly notAfter: string;
}

export interface CADescription {
  readonly trustDomain: string;
  /** The certificate that signs leaves (the root itself, or an intermediate under it). */
  readonly signer: string;
  readonly root: RootDescription;
  /** The root being rotated away from, while a rotation runs. */
  readonly previous?: RootDescription;
  /** What a joining node pins: `ambit node join --root-fingerprint`, identity.rootFingerprint. */
  readonly pin: string;
}

function rootOf(ca: SigningCA): RootDescription {
  return { subject: ca.root.cert.subject, fingerprint: ca.root.native.fingerprint256, notAfter: ca.root.cert.notAfter.toISOString() };
}

export async function describeCA(dir: string): Promise<CADescription> {
  const ca = await loadCADir(dir);
  const previous = await loadPreviousCA(dir);
  const root = rootOf(ca);
  const old = previous ? rootOf(previous) : undefined;
  return { trustDomain: ca.trustDomain, signer: ca.signer.cert.subject, root, ...(old ? { previous: old } : {}), pin: (old ?? root).fingerprint };
}
