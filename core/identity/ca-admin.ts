/**
 * What `ambit ca init|rotate` do: the CA directory and the published trust
 * bundle changed together, in an order that never leaves the signer with a CA
 * whose root the mesh does not trust. Kept out of the CLI so ambitd and tests
 * run exactly the same steps.
 */
import type { Store } from '../store/index.js';
import { addRoot, bundleOf, createBundle, MAX_ROOTS, rootFingerprint, type TrustBundle } from './bundle.js';
import type { SigningCA } from './ca.js';
import { finishRotationDir, initCADir, rotateCADir, loadCADir, loadPreviousCA, type CASource } from './ca-dir.js';
import { IdentityError } from './errors.js';
import { publishBundle, readBundle } from './store/bundle.js';
import { verifiedBundle } from './store/verified-bundle.js';
import { listIssued } from './store/issued.js';
import { resignManifest } from './manifest/writer.js';
import { hasOperatorKey, issueOperator, operatorDirFor, type Operator } from './operator.js';

export interface CAChange {
  ca: SigningCA;
  /** Bundle revision after the change. */
  revision: number;
  roots: number;
  /** The operator whose certificate the change issued (init) or re-issued under the new root (rotate). */
  operator?: Operator;
  operatorDir?: string;
}

export interface InitOptions {
  force?: boolean;
  /** Where the operator key lives (default: operatorDirFor(dir), the CA directory's sibling). */
  operatorDir?: string;
  operatorName?: string;
}

/**
 * A new mesh CA in `dir` and its root as the whole trust bundle, and a
 * certificate from it for the operator key (made now if there is none), so
 * the first `ambit apply` can sign.
 */
export async function initCA(store: Store, dir: string, source: CASource, options: InitOptions = {}): Promise<CAChange> {
  const existing = await readBundle(store);
  if (existing && !options.force) {
    const fp = rootFingerprint(existing.bundle.roots[0]!).slice(0, 23);
    throw new IdentityError(
      'EIDENTITY_BUNDLE_CONFLICT',
      `the store already has a trust bundle for ${existing.bundle.trustDomain} (root ${fp}…); use \`ambit ca rotate\` to change roots, or --force to replace it (every existing certificate stops verifying)`,
    );
  }
  const ca = await initCADir(dir, source, options);
  const bundle = bundleOf(ca);
  // A new mesh's bundle is signed by its own root: joining nodes check it against the fingerprint in their token.
  const revision = await publishBundle(store, bundle, ca, options.force ? {} : { expectRevision: existing?.revision ?? 0 });
  const operatorDir = options.operatorDir ?? operatorDirFor(dir);
  const operator = await issueOperator(ca, operatorDir, options.operatorName ? { name: options.operatorName } : {});
  return { ca, revision, roots: bundle.roots.length, operator, operatorDir };
}

/** The CA in `dir` and the roots it vouches for: its own, and mid-rotation the previous one (which signed old + new). */
export async function caAnchors(dir: string): Promise<{ ca: SigningCA; anchors: TrustBundle }> {
  const ca = await loadCADir(dir);
  const previous = await loadPreviousCA(dir);
  return { ca, anchors: createBundle(ca.trustDomain, [ca.root.pem, ...(previous ? [previous.root.pem] : [])]) };
}

/** Starts a root rotation: new CA in `dir` (the old one kept in previous/), bundle = old + new. */
export async function rotateCA(
  store: Store,
  dir: string,
  source: CASource = {},
  options: { operatorDir?: string } = {},
): Promise<CAChange & { previous: SigningCA }> {
  // The roots to extend are the signed ones, checked against this CA's root: what the old CA signs next must be
  // what it signed before plus the new root, not whatever the store lists.
  const published = await verifiedBundle(store, (await caAnchors(dir)).anchors, 'refusing to rotate');
  if (published.bundle.roots.length >= MAX_ROOTS) {
    throw new IdentityError(
      'EIDENTITY_BUNDLE_FULL',
      `the trust bundle already holds ${published.bundle.roots.length} roots: finish the running rotation first with \`ambit ca rotate --finish\``,
    );
  }
  const { previous, current } = await rotateCADir(dir, source);
  const bundle = addRoot(published.bundle, current.root.pem);
  // Signed by the old CA: the only one readers trust yet.
  const revision = await publishBundle(store, bundle, previous, { expectRevision: published.revision });
  // The operator's certificate moves to the new root now, while both are trusted, so what it signs
  // still verifies once --finish drops the old root.
  const operatorDir = options.operatorDir ?? operatorDirFor(dir);
  const operator = (await hasOperatorKey(operatorDir)) ? await issueOperator(current, operatorDir) : undefined;
  // Same entries, new sequence, signed under the new root; a manifest that does not verify is left for
  // the operator to look at (`ambit operator resign`), not silently countersigned.
  if (operator && (await store.manifest()).record) await resignManifest(store, operator).catch(() => undefined);
  return { ca: current, previous, revision, roots: bundle.roots.length, ...(operator ? { operator, operatorDir } : {}) };
}

/**
 * Ends a rotation: only the current root stays. Refused while certificates
 * under the old root are still live (they would stop verifying at once),
 * unless `force`.
 */
export async function finishRotation(store: Store, dir: string, options: { force?: boolean } = {}): Promise<CAChange & { removed: string[] }> {
  const { ca, anchors } = await caAnchors(dir);
  const published = await verifiedBundle(store, anchors, 'refusing to finish the rotation');
  const keep = ca.root.native.fingerprint256;
  const removed = published.bundle.roots.map(rootFingerprint).filter((fp) => fp !== keep);
  if (removed.length === 0)
    throw new IdentityError('EIDENTITY_BUNDLE_CONFLICT', 'no root rotation is in progress: the trust bundle holds only the current root');
  if (!options.force) {
    const stale = (await listIssued(store)).filter((r) => removed.includes(r.root));
    if (stale.length > 0) {
      const sample = stale
        .slice(0, 3)
        .map((r) => `${r.node} ${r.spiffeId}`)
        .join(', ');
      throw new IdentityError(
        'EIDENTITY_BUNDLE_CONFLICT',
        `${stale.length} live certificate(s) still chain to the old root (${sample}${stale.length > 3 ? ', …' : ''}); wait until they renew, or pass --force`,
        { count: stale.length },
      );
    }
  }
  const bundle = createBundle(published.bundle.trustDomain, [ca.root.pem]);
  // Signed by the new CA, trusted since the rotation started.
  const revision = await publishBundle(store, bundle, ca, { expectRevision: published.revision });
  await finishRotationDir(dir);
  return { ca, revision, roots: 1, removed };
}
