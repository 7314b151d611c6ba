/**
 * Whether an envelope was signed by an operator of this mesh: its chain ends
 * at a root the reader trusts, its leaf is an operator identity
 * (spiffe://<td>/ambit/operator/<name>) and its signature verifies. The one
 * check behind everything only an operator may write (the security manifest,
 * join tokens), so the rules cannot drift apart.
 */
import { isAmbitError } from '../../errors.js';
import type { TrustBundle } from '../bundle.js';
import { verifyPeerChain } from '../verify.js';
import { signatureValid, type EnvelopeDomain, type SignedEnvelope } from './envelope.js';
import type { RefusalReason } from './refusals.js';

export type OperatorSignature = { ok: true; operator: string } | { ok: false; reason: RefusalReason; detail: string };

export function verifyOperatorEnvelope(domain: EnvelopeDomain, envelope: SignedEnvelope, bundle: TrustBundle, now = new Date()): OperatorSignature {
  let signer;
  try {
    signer = verifyPeerChain(envelope.chain, bundle, { now });
  } catch (err) {
    return { ok: false, reason: 'untrusted-signer', detail: isAmbitError(err) ? err.message : String(err) };
  }
  if (signer.spiffeId.kind !== 'operator') {
    return { ok: false, reason: 'wrong-signer', detail: `signed by ${signer.spiffeId.uri}, not an operator (spiffe://<td>/ambit/operator/<name>)` };
  }
  if (!signatureValid(domain, envelope)) return { ok: false, reason: 'bad-signature', detail: 'the signature does not verify' };
  return { ok: true, operator: signer.spiffeId.uri };
}
