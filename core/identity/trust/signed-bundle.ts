/**
 * The trust bundle as a signed record. Redis holding the bundle must not make
 * Redis the root of trust, so every published bundle is signed by a CA key
 * whose chain ends at a root the reader *already* trusts: `ca init` signs the
 * first bundle with its own root (a joining node checks that root against the
 * fingerprint its token carries, signing-root.ts), `ca rotate`
 * signs old+new with the old CA, `--finish` signs the new-only bundle with the
 * new CA (trusted since the rotation started). A strictly increasing sequence
 * in the signed payload stops the store from replaying an older bundle that a
 * still-trusted root once signed.
 */
import { stableJson } from '../../store/codec.js';
import { createBundle, type TrustBundle } from '../bundle.js';
import type { SigningCA } from '../ca.js';
import { isAmbitError } from '../../errors.js';
import { verifyCaChain } from './ca-chain.js';
import { parseEnvelope, serializeEnvelope, signatureValid, signEnvelope, toKeyObject, type SignedEnvelope } from './envelope.js';
import type { RefusalReason } from './refusals.js';

const DOMAIN = 'ambit-trust-bundle-v1';

/** A bundle a reader holds, with the sequence of the signed record it came from (0: pinned before bundles were signed). */
export interface TrustedBundle {
  readonly bundle: TrustBundle;
  readonly sequence: number;
}

export interface SignedBundle extends TrustedBundle {
  readonly envelope: SignedEnvelope;
}

export type BundleVerdict =
  | { readonly accept: true; readonly trusted: SignedBundle; readonly changed: boolean }
  | { readonly accept: false; readonly reason: RefusalReason; readonly detail: string };

/** The CA's certificates a verifier walks up from: the signer, then its intermediates. */
function signingChain(ca: SigningCA): string {
  return (ca.chain.length === 0 ? [ca.signer] : ca.chain).map((c) => c.pem).join('');
}

export async function signBundle(bundle: TrustBundle, sequence: number, ca: SigningCA): Promise<SignedBundle> {
  const payload = stableJson({ trustDomain: bundle.trustDomain, roots: bundle.roots, sequence });
  const envelope = signEnvelope(DOMAIN, payload, await toKeyObject(ca.keys.privateKey), signingChain(ca));
  return { bundle, sequence, envelope };
}

export function serializeSignedBundle(signed: SignedBundle): string {
  return serializeEnvelope(signed.envelope);
}

/** Reads a stored signed bundle without trusting it; a string says why it is unreadable. */
export function openSignedBundle(text: string | undefined): SignedBundle | { reason: RefusalReason; detail: string } {
  if (!text) return { reason: 'unsigned', detail: 'the stored trust bundle carries no signature' };
  const envelope = parseEnvelope(text);
  if (!envelope) return { reason: 'malformed', detail: 'the bundle signature record is not {payload, chain, signature}' };
  try {
    const data = JSON.parse(envelope.payload) as { trustDomain?: unknown; roots?: unknown; sequence?: unknown };
    const { trustDomain, roots, sequence } = data;
    if (typeof trustDomain !== 'string' || !Array.isArray(roots) || !roots.every((r) => typeof r === 'string') || !Number.isSafeInteger(sequence)) {
      return { reason: 'malformed', detail: 'the signed bundle payload must be {trustDomain, roots, sequence}' };
    }
    return { bundle: createBundle(trustDomain, roots), sequence: sequence as number, envelope };
  } catch (err) {
    return { reason: 'malformed', detail: `the signed bundle payload is invalid: ${(err as Error).message}` };
  }
}

function sameBundle(a: TrustBundle, b: TrustBundle): boolean {
  return a.trustDomain === b.trustDomain && a.roots.length === b.roots.length && a.roots.every((r, i) => r === b.roots[i]);
}

/**
 * Whether a reader holding `trusted` may move to the stored bundle: pure, so
 * the daemon, the signer and the tests share one decision table.
 */
export function checkBundleUpdate(trusted: TrustedBundle, storedSignature: string | undefined, now = new Date()): BundleVerdict {
  const opened = openSignedBundle(storedSignature);
  if (!('envelope' in opened)) return { accept: false, ...opened };
  if (opened.bundle.trustDomain !== trusted.bundle.trustDomain) {
    return { accept: false, reason: 'trust-domain', detail: `the bundle is for ${opened.bundle.trustDomain}, this node trusts ${trusted.bundle.trustDomain}` };
  }
  try {
    verifyCaChain(opened.envelope.chain, trusted.bundle, now);
  } catch (err) {
    return { accept: false, reason: 'untrusted-signer', detail: isAmbitError(err) ? err.message : String(err) };
  }
  if (!signatureValid(DOMAIN, opened.envelope)) return { accept: false, reason: 'bad-signature', detail: 'the bundle signature does not verify' };
  const same = sameBundle(opened.bundle, trusted.bundle);
  if (opened.sequence < trusted.sequence || (opened.sequence === trusted.sequence && !same && trusted.sequence > 0)) {
    return { accept: false, reason: 'rollback', detail: `bundle sequence ${opened.sequence} is not after the trusted ${trusted.sequence}` };
  }
  return { accept: true, trusted: opened, changed: !same };
}
