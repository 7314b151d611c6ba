/**
 * Which root signed a stored trust bundle. A node joining for the first time
 * holds no bundle yet, only a fingerprint the operator handed it (in the join
 * token, or out of band): the bundle it may adopt is one whose signing chain
 * ends at exactly that root. Holding the pinned root among its roots proves
 * nothing (anyone with write access to the store can list the real root beside
 * their own and sign with theirs). The operator minting a token asks the same
 * question against the roots it trusts, so the fingerprint it hands out is the
 * one the published bundle really chains to, mid-rotation too.
 */
import type { TrustBundle } from '../bundle.js';
import { verifyCaChain } from './ca-chain.js';
import { checkBundleUpdate, type SignedBundle } from './signed-bundle.js';
import type { RefusalReason } from './refusals.js';

export type SigningRoot = { ok: true; signed: SignedBundle; root: string } | { ok: false; reason: RefusalReason; detail: string };

/**
 * The fingerprint of the root of `anchor` that the stored bundle's signature
 * chains to; `anchor` is what the reader trusts already (a joining node: the
 * bundle's own roots, to be compared with its pin; an operator: its roots.pem).
 */
export function signingRoot(anchor: TrustBundle, storedSignature: string | undefined, now = new Date()): SigningRoot {
  const verdict = checkBundleUpdate({ bundle: anchor, sequence: 0 }, storedSignature, now);
  if (!verdict.accept) return { ok: false, reason: verdict.reason, detail: verdict.detail };
  return { ok: true, signed: verdict.trusted, root: verifyCaChain(verdict.trusted.envelope.chain, anchor, now) };
}
