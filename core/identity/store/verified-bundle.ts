/**
 * The published trust bundle as an operator tool may use it: the signed
 * record, verified against roots the tool already trusts (the CA directory's,
 * the operator's roots.pem), and its signed payload, never the plain `bundle`
 * field beside it, which is only the store's word. `ca rotate` builds the next
 * bundle from this one and signs it with the old CA, so a root slipped into
 * the store would otherwise come out countersigned by the operator's own key.
 */
import type { Store } from '../../store/index.js';
import type { TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { countRefusal } from '../trust/refusals.js';
import { signingRoot } from '../trust/signing-root.js';
import { requireBundle } from './bundle.js';

export interface VerifiedBundle {
  bundle: TrustBundle;
  /** The bundle hash's revision (for a compare-and-set publish). */
  revision: number;
  /** Fingerprint of the trusted root the record's signature chains to. */
  root: string;
}

/** `doing` names the refused action in the error ("refusing to rotate", ...). */
export async function verifiedBundle(store: Store, anchors: TrustBundle, doing: string): Promise<VerifiedBundle> {
  const published = await requireBundle(store);
  const found = signingRoot(anchors, published.signature);
  if (!found.ok) {
    countRefusal('bundle', found.reason);
    throw new IdentityError(
      'EIDENTITY_BUNDLE_UNSIGNED',
      `${doing}: the store's trust bundle is not signed by a root you trust (${found.detail}); check that you are pointing at this mesh's store, or someone with write access to it rewrote the bundle: nothing was changed`,
      { reason: found.reason },
    );
  }
  return { bundle: found.signed.bundle, revision: published.revision, root: found.root };
}
