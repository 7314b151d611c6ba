/**
 * Why a signed record (trust bundle, security manifest, join token) was refused, and the
 * one counter every refusal lands in. The counter is process-wide because the
 * same refusal can happen in the daemon, the signer embedded in it and a
 * waypoint; each binary registers it in its own registry (registerMetric), so
 * `ambit_config_signature_refused_total{kind,reason}` shows up on its /metrics.
 */
import { Counter } from 'prom-client';

export type TrustKind = 'bundle' | 'manifest' | 'enrollment' | 'token';

export type RefusalReason =
  /** No signature at all where one is required. */
  | 'unsigned'
  /** The record or its envelope does not parse. */
  | 'malformed'
  /** The signing certificate does not chain to a root the reader trusts. */
  | 'untrusted-signer'
  /** The chain is trusted but the signature does not verify. */
  | 'bad-signature'
  /** The chain is trusted but names the wrong kind of signer (a workload, not an operator). */
  | 'wrong-signer'
  /** The sequence is lower than one already accepted (a replay), or the same with other content. */
  | 'rollback'
  /** The record is for another trust domain. */
  | 'trust-domain'
  /** A manifest entry has no record in the store (a deleted policy or enrollment). */
  | 'missing-entry'
  /** A security record or enrollment in the store has no manifest entry (an injected one). */
  | 'extra-entry'
  /** A record differs from the digest its manifest entry holds (an altered one). */
  | 'digest-mismatch';

export const signatureRefusals = new Counter({
  name: 'ambit_config_signature_refused_total',
  help: 'Signed configuration refused (trust bundle, security manifest, enrollment): the last good one kept',
  labelNames: ['kind', 'reason'] as const,
  registers: [],
});

export function countRefusal(kind: TrustKind, reason: RefusalReason): void {
  signatureRefusals.inc({ kind, reason });
}
