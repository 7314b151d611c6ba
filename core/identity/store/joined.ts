/**
 * Which node names have joined: written by the signer when it issues a node's
 * first certificate, deleted only by `ambit node remove`. A node name is an
 * identity; while it is joined, no token, old or new, makes a second key for it.
 * Only the signer's and the operator's store users may write these keys, so a
 * node cannot clear its own record, let alone another's.
 */
import type { Store } from '../../store/index.js';
import { IdentityError } from '../errors.js';
import { identityKeys } from './keys.js';

export interface JoinedRecord {
  node: string;
  /** Serial of the certificate issued at join. */
  serial: string;
  joinedAt: string;
}

export async function checkNotJoined(store: Store, node: string): Promise<void> {
  const raw = await store.redis.get(identityKeys(store).joined(node));
  if (raw === null) return;
  let at = '';
  try {
    at = ` at ${(JSON.parse(raw) as Partial<JoinedRecord>).joinedAt ?? '?'}`;
  } catch {
    // Whatever it holds, the name is taken; the operator clears it with `ambit node remove`.
  }
  throw new IdentityError(
    'EIDENTITY_NODE_EXISTS',
    `join refused: node ${node} already joined${at}; to give the name a new key, run \`ambit node remove ${node}\` and create a new token`,
    { node },
  );
}

export async function checkJoined(store: Store, node: string): Promise<void> {
  if ((await store.redis.exists(identityKeys(store).joined(node))) === 1) return;
  throw new IdentityError(
    'EIDENTITY_NODE_REMOVED',
    `request refused: node ${node} is not joined (removed with \`ambit node remove\`, or never joined through this signer); join it again with a new token`,
    { node },
  );
}

export async function recordJoined(store: Store, node: string, serial: string): Promise<void> {
  const record: JoinedRecord = { node, serial, joinedAt: new Date().toISOString() };
  await store.redis.set(identityKeys(store).joined(node), JSON.stringify(record));
}

export async function listJoined(store: Store): Promise<JoinedRecord[]> {
  const keys = await store.scanKeys(identityKeys(store).joinedPattern);
  if (keys.length === 0) return [];
  const values = await store.redis.mget(...keys);
  const out: JoinedRecord[] = [];
  keys.forEach((key, i) => {
    const node = key.slice(identityKeys(store).joined('').length);
    try {
      const rec = JSON.parse(values[i] ?? '') as Partial<JoinedRecord>;
      out.push({ node, serial: String(rec.serial ?? ''), joinedAt: String(rec.joinedAt ?? '') });
    } catch {
      out.push({ node, serial: '', joinedAt: '' });
    }
  });
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

export async function forgetJoined(store: Store, node: string): Promise<boolean> {
  return (await store.redis.del(identityKeys(store).joined(node))) > 0;
}
