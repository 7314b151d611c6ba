/**
 * The trust bundle as published in the store: the roots every node verifies
 * peers against. Each change bumps the bundle's own revision and is announced
 * on a channel, so daemons pick up a root rotation without a restart.
 */
import type { Store } from '../../store/index.js';
import { parseBundle, serializeBundle, type TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { identityKeys } from './keys.js';

export interface PublishedBundle {
  bundle: TrustBundle;
  revision: number;
}

/**
 * KEYS: bundle hash. ARGV: expected revision ('' = any), bundle JSON, channel.
 * Compare-and-set, so `ca init` on two hosts or `ca rotate` racing `ca init`
 * cannot silently replace each other's roots.
 */
const PUBLISH_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then
  return redis.error_reply('EIDENTITY_BUNDLE_CONFLICT trust bundle changed (revision ' .. current .. ', expected ' .. ARGV[1] .. ')')
end
if redis.call('HGET', KEYS[1], 'bundle') == ARGV[2] then return current end
local rev = current + 1
redis.call('HSET', KEYS[1], 'bundle', ARGV[2], 'revision', rev)
redis.call('PUBLISH', ARGV[3], '{"revision":' .. rev .. '}')
return rev
`;

export async function readBundle(store: Store): Promise<PublishedBundle | undefined> {
  const [text, revision] = await store.redis.hmget(identityKeys(store).bundle, 'bundle', 'revision');
  if (!text) return undefined;
  return { bundle: parseBundle(text), revision: Number(revision ?? 0) };
}

/** The bundle, or EIDENTITY_NO_BUNDLE telling the operator what to run. */
export async function requireBundle(store: Store): Promise<PublishedBundle> {
  const published = await readBundle(store);
  if (!published) throw new IdentityError('EIDENTITY_NO_BUNDLE', 'the store has no trust bundle: run `ambit ca init` first');
  return published;
}

/** Publishes `bundle`; with expectRevision, only if nobody changed it since that revision was read. */
export async function publishBundle(store: Store, bundle: TrustBundle, options: { expectRevision?: number } = {}): Promise<number> {
  const keys = identityKeys(store);
  try {
    const rev = await store.redis.eval(PUBLISH_LUA, 1, keys.bundle, options.expectRevision ?? '', serializeBundle(bundle), keys.bundleChannel);
    return Number(rev);
  } catch (err) {
    const m = /^EIDENTITY_BUNDLE_CONFLICT (.*)$/s.exec((err as Error).message);
    if (m) throw new IdentityError('EIDENTITY_BUNDLE_CONFLICT', `${m[1]!.trim()}; read it again and retry`);
    throw err;
  }
}
