/**
 * The trust bundle as published in the store: the roots every node verifies
 * peers against. Each change bumps the bundle's own revision and is announced
 * on a channel, so daemons pick up a root rotation without a restart. Beside
 * the plain bundle (the store's word only) sits its signed form
 * (trust/signed-bundle.ts), whose sequence is the revision it was published
 * at: readers go by the signed form only, and so do the operator's tools
 * (verified-bundle.ts).
 */
import type { Store } from '../../store/index.js';
import { parseBundle, serializeBundle, type TrustBundle } from '../bundle.js';
import type { SigningCA } from '../ca.js';
import { IdentityError } from '../errors.js';
import { serializeSignedBundle, signBundle } from '../trust/signed-bundle.js';
import { identityKeys } from './keys.js';

export interface PublishedBundle {
  bundle: TrustBundle;
  revision: number;
  /** The signed record (trust/signed-bundle.ts), undefined for a bundle published unsigned. */
  signature?: string;
}

/**
 * KEYS: bundle hash. ARGV: expected revision, bundle JSON, channel, signed record.
 * Compare-and-set, so `ca init` on two hosts or `ca rotate` racing `ca init`
 * cannot silently replace each other's roots, and so the sequence signed into
 * the record (expected + 1) is the revision it lands at.
 */
const PUBLISH_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if tonumber(ARGV[1]) ~= current then
  return redis.error_reply('EIDENTITY_BUNDLE_CONFLICT trust bundle changed (revision ' .. current .. ', expected ' .. ARGV[1] .. ')')
end
local rev = current + 1
redis.call('HSET', KEYS[1], 'bundle', ARGV[2], 'revision', rev, 'signed', ARGV[4])
redis.call('PUBLISH', ARGV[3], '{"revision":' .. rev .. '}')
return rev
`;

export async function readBundle(store: Store): Promise<PublishedBundle | undefined> {
  const [text, revision, signature] = await store.redis.hmget(identityKeys(store).bundle, 'bundle', 'revision', 'signed');
  if (!text) return undefined;
  return { bundle: parseBundle(text), revision: Number(revision ?? 0), ...(signature ? { signature } : {}) };
}

/** The bundle, or EIDENTITY_NO_BUNDLE telling the operator what to run. */
export async function requireBundle(store: Store): Promise<PublishedBundle> {
  const published = await readBundle(store);
  if (!published) throw new IdentityError('EIDENTITY_NO_BUNDLE', 'the store has no trust bundle: run `ambit ca init` first');
  return published;
}

/**
 * Publishes `bundle` signed by `signer` (a CA whose root readers already
 * trust); with expectRevision, only if nobody changed it since that revision
 * was read, otherwise over whatever is there now.
 */
export async function publishBundle(store: Store, bundle: TrustBundle, signer: SigningCA, options: { expectRevision?: number } = {}): Promise<number> {
  const keys = identityKeys(store);
  const expect = options.expectRevision ?? Number((await store.redis.hget(keys.bundle, 'revision')) ?? 0);
  const signed = await signBundle(bundle, expect + 1, signer);
  try {
    const rev = await store.redis.eval(PUBLISH_LUA, 1, keys.bundle, expect, serializeBundle(bundle), keys.bundleChannel, serializeSignedBundle(signed));
    return Number(rev);
  } catch (err) {
    const m = /^EIDENTITY_BUNDLE_CONFLICT (.*)$/s.exec((err as Error).message);
    if (m) throw new IdentityError('EIDENTITY_BUNDLE_CONFLICT', `${m[1]!.trim()}; read it again and retry`);
    throw err;
  }
}
