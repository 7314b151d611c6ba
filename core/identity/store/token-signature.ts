/**
 * The operator's signature on a join token record. The store keeps only the
 * token's SHA-256, so reading Redis never lets anyone join; but writing Redis
 * would, if a record were all a token took: anyone could store the digest of a
 * token they made up. So the record carries an envelope, signed with the
 * operator key, over {digest, node, expiresAt, trustDomain}, and the signer
 * honours a token only when that envelope verifies against the roots it
 * trusts and names this token, this node and an unexpired time.
 */
import type { TrustBundle } from '../bundle.js';
import type { Operator } from '../operator.js';
import { stableJson } from '../../store/codec.js';
import { parseEnvelope, serializeEnvelope, signEnvelope } from '../trust/envelope.js';
import { verifyOperatorEnvelope } from '../trust/operator-envelope.js';
import type { RefusalReason } from '../trust/refusals.js';

export const TOKEN_DOMAIN = 'ambit-join-token-v1';

export interface TokenGrant {
  /** SHA-256 hex of the token. */
  readonly digest: string;
  readonly node: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  readonly trustDomain: string;
}

export function signTokenGrant(operator: Operator, grant: Omit<TokenGrant, 'trustDomain'>): string {
  const payload: TokenGrant = { ...grant, trustDomain: operator.spiffeId.trustDomain };
  return serializeEnvelope(signEnvelope(TOKEN_DOMAIN, stableJson(payload), operator.key, operator.chainPem));
}

export type GrantVerdict = { ok: true; grant: TokenGrant; operator: string } | { ok: false; reason: RefusalReason; detail: string };

/**
 * Whether `signed` (the record's field, unverified) is an operator's grant of
 * the token with `digest`. Which node it grants is the caller's to compare
 * (it has its own refusal, EIDENTITY_TOKEN_WRONG_NODE).
 */
export function verifyTokenGrant(signed: string | null | undefined, bundle: TrustBundle, expect: { digest: string }, now = new Date()): GrantVerdict {
  if (!signed) return { ok: false, reason: 'unsigned', detail: 'the token record carries no operator signature' };
  const envelope = parseEnvelope(signed);
  if (!envelope) return { ok: false, reason: 'malformed', detail: 'the token signature does not parse' };
  const verdict = verifyOperatorEnvelope(TOKEN_DOMAIN, envelope, bundle, now);
  if (!verdict.ok) return { ok: false, reason: verdict.reason, detail: `the token record: ${verdict.detail}` };
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(envelope.payload) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed', detail: 'the signed token grant does not parse' };
  }
  const { digest, node, expiresAt, trustDomain, ...rest } = data ?? {};
  if (
    Object.keys(rest).length > 0 ||
    typeof digest !== 'string' ||
    typeof node !== 'string' ||
    !Number.isSafeInteger(expiresAt) ||
    typeof trustDomain !== 'string'
  ) {
    return { ok: false, reason: 'malformed', detail: 'the signed token grant has unexpected fields' };
  }
  if (trustDomain !== bundle.trustDomain) return { ok: false, reason: 'trust-domain', detail: `the token is for ${trustDomain}, not ${bundle.trustDomain}` };
  // A signature copied onto another token's record grants nothing to that token.
  if (digest !== expect.digest) return { ok: false, reason: 'digest-mismatch', detail: 'the signed grant is for another token' };
  return { ok: true, grant: { digest, node, expiresAt: expiresAt as number, trustDomain }, operator: verdict.operator };
}
