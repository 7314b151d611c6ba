/**
 * The trust bundle `ambit ca bundle` prints, which people put into CAfiles: the
 * store's signed record, checked against the first anchor this host has (a
 * root fingerprint given on the command line, the operator's roots.pem, the CA
 * directory), and printed from its signed payload. With none of them there is
 * nothing to check against, and the store's word alone is not printed.
 */
import { existsSync } from 'node:fs';
import type { Store } from '../../store/index.js';
import { caAnchors } from '../ca-admin.js';
import { caDirFiles } from '../ca-dir.js';
import { createBundle, type TrustBundle } from '../bundle.js';
import { trustPinnedBundle } from '../client/root-pin.js';
import { IdentityError } from '../errors.js';
import { parseFingerprint } from '../fingerprint.js';
import { operatorFiles, readRoots } from '../operator.js';
import { requireBundle } from './bundle.js';
import { verifiedBundle } from './verified-bundle.js';

export interface BundleAnchors {
  rootFingerprint?: string;
  operatorDir: string;
  caDir: string;
}

const REFUSED = 'not printing the trust bundle';

export async function trustedBundle(store: Store, anchors: BundleAnchors): Promise<TrustBundle> {
  if (anchors.rootFingerprint) {
    const pin = { fingerprint: parseFingerprint(anchors.rootFingerprint, '--root-fingerprint'), from: '--root-fingerprint' };
    return trustPinnedBundle(pin, await requireBundle(store), REFUSED).bundle;
  }
  if (existsSync(operatorFiles(anchors.operatorDir).roots)) {
    const published = await requireBundle(store);
    const roots = createBundle(published.bundle.trustDomain, await readRoots(anchors.operatorDir));
    return (await verifiedBundle(store, roots, REFUSED)).bundle;
  }
  if (existsSync(caDirFiles(anchors.caDir).rootFile)) return (await verifiedBundle(store, (await caAnchors(anchors.caDir)).anchors, REFUSED)).bundle;
  throw new IdentityError(
    'EIDENTITY_ROOT_UNPINNED',
    `${REFUSED}: this host has no root to check the store's bundle against (no ${operatorFiles(anchors.operatorDir).roots}, no CA in ${anchors.caDir}); pass --root-fingerprint from \`ambit ca show\`, or read the bundle a joined node keeps (/var/lib/ambit/bundle.pem)`,
  );
}
