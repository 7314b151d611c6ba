/**
 * One-time join tokens. The store keeps only the token's SHA-256, so reading
 * Redis does not let anyone join; the token itself is printed once, to the
 * operator. A token is bound to one node name: it makes that node and no other.
 *
 * Redis expiry alone would make an expired token indistinguishable from one
 * that never existed, and the operator deserves to hear which it is. So the
 * record carries its own expiresAt and lives on for a grace period after it,
 * then Redis drops it (and it is "unknown" from then on).
 *
 * The record is signed by the operator (token-signature.ts): a record written
 * straight into Redis, however well formed, makes no token. The token itself
 * ends with the fingerprint of the mesh root (token-pin.ts), which the joining
 * node checks the store's trust bundle against.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../../store/index.js';
import type { TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import type { Operator } from '../operator.js';
import { withRootFingerprint } from '../token-pin.js';
import { countRefusal } from '../trust/refusals.js';
import { identityKeys } from './keys.js';
import { rootToPin } from './token-root.js';
import { signTokenGrant, verifyTokenGrant } from './token-signature.js';

const TOKEN_PREFIX = 'ambit-join-';
/** How long a used or expired token is still recognised as such. */
const TOMBSTONE_SECONDS = 7 * 24 * 3600;

export interface CreatedToken {
  token: string;
  /** The root fingerprint the token pins (colon-separated). */
  rootFingerprint: string;
  expiresAt: Date;
  node: string;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token.trim()).digest('hex');
}

export interface JoinTokenOptions {
  ttlSeconds: number;
  node: string;
  /** Signs the record: the signer honours no other. */
  operator: Operator;
  now?: Date;
  tokenPrefix?: string;
}

export async function createJoinToken(store: Store, options: JoinTokenOptions): Promise<CreatedToken> {
  if (!options.node) throw new IdentityError('EIDENTITY_TOKEN_NO_NODE', 'a join token is bound to one node: pass the node name it is for (--node)');
  if (!Number.isFinite(options.ttlSeconds) || options.ttlSeconds <= 0) {
    throw new IdentityError('EIDENTITY_BAD_TTL', `join token TTL must be positive, got ${options.ttlSeconds}s`);
  }
  // The root the joining node will trust, so its first contact with the store is not trust on first use.
  const pin = await rootToPin(store, options.operator);
  const token = withRootFingerprint((options.tokenPrefix ?? TOKEN_PREFIX) + randomBytes(32).toString('base64url'), pin);
  const now = options.now ?? new Date();
  const expiresAt = new Date(now.getTime() + options.ttlSeconds * 1000);
  const digest = tokenDigest(token);
  const key = identityKeys(store).token(digest);
  const signed = signTokenGrant(options.operator, { digest, node: options.node, expiresAt: expiresAt.getTime() });
  const fields = { expiresAt: String(expiresAt.getTime()), createdAt: String(now.getTime()), node: options.node, signed };
  await store.redis
    .multi()
    .hset(key, fields)
    .expire(key, Math.ceil(options.ttlSeconds) + TOMBSTONE_SECONDS)
    .exec();
  return { token, rootFingerprint: pin, expiresAt, node: options.node };
}

/**
 * KEYS: token hash. ARGV: now (ms), node asking, what consumed it.
 * Validate, then write: the check and the consumed flag are one atomic step,
 * so two joins racing with the same token cannot both get through.
 * Returns {status, detail}.
 */
const CONSUME_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'unknown', '' } end
local t = redis.call('HMGET', KEYS[1], 'expiresAt', 'node', 'consumedBy', 'consumedAt')
if t[3] then return { 'used', t[3] .. ' ' .. t[4] } end
if tonumber(ARGV[1]) > tonumber(t[1]) then return { 'expired', t[1] } end
if t[2] ~= '' and t[2] ~= ARGV[2] then return { 'wrong-node', t[2] } end
redis.call('HSET', KEYS[1], 'consumedBy', ARGV[3], 'consumedAt', ARGV[1])
return { 'ok', '' }
`;

/**
 * Consumes a token for `node`, or throws the reason it cannot be used (distinct
 * codes). The operator's signature is checked first, against `bundle` (the
 * roots the signer trusts), and its expiry is the signed one: the record's own
 * fields are the store's word and only say whether the token was used.
 */
export async function consumeJoinToken(store: Store, token: string, node: string, bundle: TrustBundle, now: Date = new Date()): Promise<void> {
  const digest = tokenDigest(token);
  const key = identityKeys(store).token(digest);
  const signed = await store.redis.hget(key, 'signed');
  if (signed !== null || (await store.redis.exists(key)) === 1) {
    const grant = verifyTokenGrant(signed, bundle, { digest }, now);
    if (!grant.ok) {
      countRefusal('token', grant.reason);
      throw new IdentityError(
        'EIDENTITY_TOKEN_UNSIGNED',
        `join token refused: ${grant.detail}; tokens come only from \`ambit node token create\` with the operator key (a record written into Redis makes none)`,
        { node, reason: grant.reason },
      );
    }
    // The signed node and expiry, not the record's fields (the store could have edited those).
    if (grant.grant.node !== node) {
      throw new IdentityError('EIDENTITY_TOKEN_WRONG_NODE', `join token refused: it was created for node ${grant.grant.node}, not ${node}`, {
        node,
        boundTo: grant.grant.node,
      });
    }
    if (now.getTime() > grant.grant.expiresAt) {
      throw new IdentityError('EIDENTITY_TOKEN_EXPIRED', `join token refused: expired at ${new Date(grant.grant.expiresAt).toISOString()}; create a new one`, {
        node,
      });
    }
  }
  const [status, detail] = (await store.redis.eval(CONSUME_LUA, 1, key, now.getTime(), node, node)) as [string, string];
  switch (status) {
    case 'ok':
      return;
    case 'unknown':
      throw new IdentityError(
        'EIDENTITY_TOKEN_UNKNOWN',
        'join token refused: unknown token (mistyped, or expired more than 7 days ago); create one with `ambit node token create`',
        { node },
      );
    case 'used': {
      const [by, at] = detail.split(' ');
      throw new IdentityError(
        'EIDENTITY_TOKEN_USED',
        `join token refused: already used by node ${by} at ${new Date(Number(at)).toISOString()}; tokens are one-time, create a new one`,
        { node, usedBy: by },
      );
    }
    case 'expired':
      throw new IdentityError('EIDENTITY_TOKEN_EXPIRED', `join token refused: expired at ${new Date(Number(detail)).toISOString()}; create a new one`, {
        node,
      });
    case 'wrong-node':
      throw new IdentityError('EIDENTITY_TOKEN_WRONG_NODE', `join token refused: it was created for node ${detail}, not ${node}`, { node, boundTo: detail });
    default:
      throw new IdentityError('EIDENTITY_SIGNER_FAILED', `unexpected join token status ${status}`);
  }
}
