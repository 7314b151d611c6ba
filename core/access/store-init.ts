/**
 * `ambit store init`: turn a plain Redis into a store with roles, once, as its
 * administrator. Creates the operator's and the signer's users with fresh
 * passwords, writes each to its own credentials file (0600), turns Redis's
 * passwordless default user off so nothing reaches the mesh without a role, and
 * makes the users survive a restart where Redis lets it. Node users come later,
 * one per join token. With replicas (Sentinel), every step happens on every server,
 * with the credentials used on the master (core/access/acl-fleet.ts).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { AclFleet, weakest, type AclServerReport } from './acl-fleet.js';
import { disableDefaultUser, persistAcl, setRoleUser, type AclPersistence } from './admin.js';
import { checkNoDefaultLinks } from './default-links.js';
import { newPassword, OPERATOR_CREDENTIALS, SIGNER_CREDENTIALS, writeCredentials } from './credentials.js';
import { AccessError } from './errors.js';

export interface StoreInitOptions {
  /** Where operator.json and signer.json go. */
  dir: string;
  keyPrefix?: string | undefined;
  /** Leave the default user as it is (another application shares this Redis); says so loudly. */
  keepDefaultUser?: boolean;
  /** Replace credentials files that exist (new passwords: old holders are locked out). */
  force?: boolean;
}

export interface StoreInitResult {
  operator: { user: string; file: string };
  signer: { user: string; file: string };
  defaultUser: 'disabled' | 'kept';
  /** The weakest persistence of any server (what to warn about). */
  persistence: AclPersistence;
  /** Every server that got the users, and where each keeps them. */
  servers: AclServerReport[];
}

export async function initStore(redis: Redis, options: StoreInitOptions): Promise<StoreInitResult> {
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const files = { operator: join(options.dir, OPERATOR_CREDENTIALS), signer: join(options.dir, SIGNER_CREDENTIALS) };
  if (!options.force) {
    for (const file of Object.values(files)) {
      const exists = await access(file).then(
        () => true,
        () => false,
      );
      if (exists) {
        throw new AccessError(
          'EACCESS_CREDENTIALS',
          `${file} exists: this store was initialised already; pass --force to issue new passwords (the old ones stop working)`,
          {
            path: file,
          },
        );
      }
    }
  }
  // Every server answers before anything changes; so must the check that turning the default
  // user off breaks no replica or sentinel: a refusal leaves the store as it was.
  const fleet = await AclFleet.open(redis);
  try {
    if (!options.keepDefaultUser) await checkNoDefaultLinks(fleet);
    const operatorPassword = newPassword();
    const signerPassword = newPassword();
    // Users before files: a refusal (not an administrator) leaves no file claiming a user that does not exist.
    const operatorUser = await setRoleUser(fleet, prefix, { kind: 'operator' }, operatorPassword);
    const signerUser = await setRoleUser(fleet, prefix, { kind: 'signer' }, signerPassword);
    await writeCredentials(files.operator, { username: operatorUser, password: operatorPassword });
    await writeCredentials(files.signer, { username: signerUser, password: signerPassword });
    if (!options.keepDefaultUser) await disableDefaultUser(fleet);
    const servers = await persistAcl(fleet);
    return {
      operator: { user: operatorUser, file: files.operator },
      signer: { user: signerUser, file: files.signer },
      defaultUser: options.keepDefaultUser ? 'kept' : 'disabled',
      persistence: weakest(servers),
      servers,
    };
  } finally {
    await fleet.close();
  }
}
