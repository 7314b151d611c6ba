/**
 * The root a new join token pins (token-pin.ts). It must come from what the
 * operator trusts, not from the store: a fingerprint read off the stored bundle
 * would hand a node whatever root an attacker wrote there. So the stored
 * bundle is checked against the operator's own roots (roots.pem beside the
 * operator key), and the token pins the one its signature chains to: the
 * current root, or mid-rotation the old root that signed old + new. A bundle
 * that chains to none of them makes no token: the store was rewritten, or this
 * operator directory belongs to another mesh.
 */
import type { Store } from '../../store/index.js';
import { createBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import type { Operator } from '../operator.js';
import { countRefusal } from '../trust/refusals.js';
import { signingRoot } from '../trust/signing-root.js';
import { requireBundle } from './bundle.js';

export async function rootToPin(store: Store, operator: Operator): Promise<string> {
  if (operator.roots.length === 0) {
    throw new IdentityError(
      'EIDENTITY_NO_OPERATOR_KEY',
      `the operator ${operator.spiffeId.uri} has no roots.pem beside its key, so it cannot say which root a joining node should trust; run \`ambit operator init\` where the CA is`,
      { operator: operator.spiffeId.uri },
    );
  }
  const published = await requireBundle(store);
  const found = signingRoot(createBundle(operator.spiffeId.trustDomain, operator.roots), published.signature);
  if (!found.ok) {
    countRefusal('bundle', found.reason);
    throw new IdentityError(
      'EIDENTITY_BUNDLE_UNSIGNED',
      `no token made: the store's trust bundle is not signed by a root this operator trusts (${found.detail}); check that you are pointing at this mesh's store, or someone rewrote the trust bundle`,
      { reason: found.reason },
    );
  }
  return found.root;
}
