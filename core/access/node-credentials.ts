/**
 * The store credentials of a daemon's first start. Its settings (or the file a
 * previous join left in its identity directory, core/config/daemon-settings.ts)
 * come first; a daemon with neither, given a join token minted for a store with
 * roles, uses the credentials the token carries and keeps them in its identity
 * directory for the next start (the token is one-time). With none of these it
 * connects without credentials, which a store with roles refuses: a node never
 * falls back to anything broader.
 */
import { join } from 'node:path';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import type { StoreOptions } from '../store/types.js';
import { NODE_CREDENTIALS_FILE, writeCredentials } from './credentials.js';
import { tokenCredentials } from './node-token.js';

export interface NodeStoreCredentialsInput {
  store: StoreOptions;
  identityDir: string;
  nodeName: string;
  token?: string | undefined;
}

export type CredentialsSource = 'settings' | 'join-token' | 'none';

export async function nodeStoreOptions(input: NodeStoreCredentialsInput): Promise<{ store: StoreOptions; source: CredentialsSource }> {
  if (input.store.username || input.store.password) return { store: input.store, source: 'settings' };
  const carried = input.token ? tokenCredentials(input.token, input.store.keyPrefix ?? DEFAULT_KEY_PREFIX, input.nodeName) : undefined;
  if (!carried) return { store: input.store, source: 'none' };
  // Kept before the join, so a join interrupted after the signer answered can still reconnect.
  await writeCredentials(join(input.identityDir, NODE_CREDENTIALS_FILE), carried);
  return { store: { ...input.store, ...carried }, source: 'join-token' };
}
