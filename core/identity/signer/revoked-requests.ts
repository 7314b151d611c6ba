/**
 * The signer refuses a node name or a node certificate that is on the
 * revocation list of the operator-signed manifest, whatever the store says:
 * `ambit node remove` deletes the join record too, but anyone with Redis can
 * write it back, and only the signed list cannot be edited that way. The list
 * is read from the manifest the signer verifies for every request (the same
 * SignedManifests that gates enrollments, so a rolled-back manifest without
 * the revocation is refused as a rollback). A mesh that never had a manifest
 * has revoked nothing; once one was accepted, a missing or unverifiable one
 * refuses every request (fail closed: the signer cannot tell what is revoked).
 */
import type { Store } from '../../store/index.js';
import type { TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { peerRevocation } from '../revocation/check.js';
import { EMPTY_REVOCATIONS, type RevocationList } from '../revocation/list.js';
import { nodeId } from '../spiffe.js';
import { countRefusal } from '../trust/refusals.js';
import type { SignedManifests } from './signed-enrollment.js';

async function currentRevocations(store: Store, manifests: SignedManifests, bundle: TrustBundle): Promise<RevocationList> {
  const { record } = await store.manifest();
  if (record === undefined && manifests.lastSequence === 0) return EMPTY_REVOCATIONS;
  const verified = manifests.verify(record, bundle);
  if (verified.ok) return verified.manifest.revoked;
  countRefusal('manifest', verified.reason);
  throw new IdentityError(
    'EIDENTITY_MANIFEST_INVALID',
    `request refused: the security manifest in the store does not verify (${verified.reason}: ${verified.detail}), so the signer cannot tell which nodes are revoked`,
    { reason: verified.reason },
  );
}

/** Refuses `node` (joining, or authenticated by the certificate with `serial`) when it is revoked. */
export async function checkNotRevoked(
  store: Store,
  manifests: SignedManifests,
  bundle: TrustBundle,
  who: { node: string; serial?: string | undefined },
): Promise<void> {
  const list = await currentRevocations(store, manifests, bundle);
  const verdict = peerRevocation(list, { serial: who.serial ?? '', spiffeId: nodeId(bundle.trustDomain, who.node).uri });
  if (!verdict.revoked) return;
  throw new IdentityError(
    'EIDENTITY_NODE_REVOKED',
    `request refused: ${verdict.detail}; ${verdict.match === 'node' ? `a new token (\`ambit node token create --node ${who.node}\`) re-admits the name` : 'join again with a new token for a new certificate'}`,
    { node: who.node, match: verdict.match },
  );
}
