/**
 * What a joining node trusts before it trusts anything: the root fingerprint
 * its join token carries, or one the operator gave it out of band
 * (`--root-fingerprint`, identity.rootFingerprint). The store's trust bundle is
 * adopted only if its signature chains to that root; otherwise the join stops
 * before a key, a certificate or a store record exists, so a node pointed at a
 * forged store (or the wrong one) comes away with nothing to undo.
 */
import { rootFingerprint } from '../bundle.js';
import { IdentityError } from '../errors.js';
import type { PublishedBundle } from '../store/bundle.js';
import { tokenRootFingerprint } from '../token-pin.js';
import { countRefusal } from '../trust/refusals.js';
import type { SignedBundle } from '../trust/signed-bundle.js';
import { signingRoot } from '../trust/signing-root.js';

/** A fingerprint (canonical, see fingerprint.ts) and where it was given, for the error that names it. */
export interface RootPin {
  readonly fingerprint: string;
  /** `--root-fingerprint`, `identity.rootFingerprint`, or `the join token`. */
  readonly from: string;
}

const WHAT_TO_DO =
  'check that you are pointing at the right store (--redis, AMBIT_REDIS_URL or store.url) and that the fingerprint is the one `ambit ca show` prints (a root rotation finished since the token was made needs a new token); if both are right, someone with write access to the store rewrote the trust bundle (an attacker): do not join, and tell the operator';

/** The pin for a join: the token's, and an explicit one that must agree with it. */
export function joinPin(token: string, explicit?: RootPin): RootPin {
  const carried = tokenRootFingerprint(token);
  if (carried && explicit && carried !== explicit.fingerprint) {
    throw new IdentityError(
      'EIDENTITY_ROOT_PIN_CONFLICT',
      `join refused: ${explicit.from} is ${explicit.fingerprint} but the join token pins root ${carried}; pass the fingerprint \`ambit ca show\` prints for this mesh, or create a new token with \`ambit node token create\``,
      { expected: carried, given: explicit.fingerprint, from: explicit.from },
    );
  }
  if (carried) return { fingerprint: carried, from: 'the join token' };
  if (explicit) return explicit;
  throw new IdentityError(
    'EIDENTITY_ROOT_UNPINNED',
    'join refused: the join token carries no root fingerprint (it was made by an older ambit) and none was given, so nothing vouches for the root in the store; create a new token with `ambit node token create`, or pass --root-fingerprint (identity.rootFingerprint for ambitd) from `ambit ca show`',
  );
}

/**
 * The bundle a joining node adopts: the store's, if its signature chains to
 * the pinned root. EIDENTITY_ROOT_MISMATCH names both roots (the one expected,
 * the one that signed what the store holds) and what to check.
 */
export function trustPinnedBundle(pin: RootPin, published: PublishedBundle, refused = 'join refused, nothing written', now = new Date()): SignedBundle {
  // The stored bundle's own roots as the anchor: a bundle that does not even verify under them is no bundle.
  const found = signingRoot(published.bundle, published.signature, now);
  if (!found.ok) {
    countRefusal('bundle', found.reason);
    throw new IdentityError(
      'EIDENTITY_BUNDLE_UNSIGNED',
      `${refused}: the store's trust bundle (roots ${published.bundle.roots.map(rootFingerprint).join(', ')}) is not signed by its own root (${found.detail}), and ${pin.from} expects root ${pin.fingerprint}; ${WHAT_TO_DO}`,
      { expected: pin.fingerprint, reason: found.reason },
    );
  }
  if (found.root !== pin.fingerprint) {
    countRefusal('bundle', 'untrusted-signer');
    throw new IdentityError(
      'EIDENTITY_ROOT_MISMATCH',
      `${refused}: ${pin.from} expects root ${pin.fingerprint}, but the trust bundle in the store is signed by root ${found.root}; ${WHAT_TO_DO}`,
      { expected: pin.fingerprint, found: found.root, from: pin.from },
    );
  }
  return found.signed;
}
