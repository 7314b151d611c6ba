/**
 * Creating, changing and removing the store's role users in Redis. Only an
 * administrator may (ACL SETUSER): `ambit store init` once, then the operator,
 * who creates a node's user when it mints that node's join token and deletes it
 * with `ambit node remove`. Passwords go to Redis as SHA-256 (`#<hex>`), so ACL
 * LIST and a copy of the ACL file never show one.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { identityKeysFor } from '../identity/store/keys.js';
import { DEFAULT_KEY_PREFIX, keysFor } from '../store/keys.js';
import type { Store } from '../store/index.js';
import { AccessError } from './errors.js';
import { roleRules, roleUser, type StoreRole } from './roles.js';

/** Where the users now live: an ACL file, the config file, or only this Redis process's memory. */
export type AclPersistence = 'aclfile' | 'config' | 'memory';

export async function whoami(redis: Redis): Promise<string> {
  return String(await redis.call('ACL', 'WHOAMI'));
}

/** True when this store is run with roles: the caller is a named user, not Redis's default. */
export async function rolesInUse(redis: Redis): Promise<boolean> {
  return (await whoami(redis)) !== 'default';
}

function asAdmin<T>(what: string, run: () => Promise<T>): Promise<T> {
  return run().catch((err: unknown) => {
    const message = (err as Error).message ?? String(err);
    if (/NOPERM|no permissions/i.test(message)) {
      throw new AccessError(
        'EACCESS_NOT_ADMIN',
        `${what}: this Redis user may not manage ACL users (${message}); run it as the store's administrator`,
        {},
        { cause: err },
      );
    }
    throw err;
  });
}

export async function setRoleUser(redis: Redis, prefix: string, role: StoreRole, password: string): Promise<string> {
  const user = roleUser(prefix, role);
  const rules = roleRules(keysFor(prefix), identityKeysFor(prefix), prefix, role);
  const digest = createHash('sha256').update(password).digest('hex');
  await asAdmin(`creating Redis user ${user}`, () => redis.call('ACL', 'SETUSER', user, 'reset', 'on', `#${digest}`, ...rules));
  return user;
}

/** Removes a role's user; its open connections are closed by Redis. Returns whether it existed. */
export async function deleteRoleUser(redis: Redis, prefix: string, role: StoreRole): Promise<boolean> {
  const user = roleUser(prefix, role);
  const removed = await asAdmin(`deleting Redis user ${user}`, () => redis.call('ACL', 'DELUSER', user));
  return Number(removed) > 0;
}

/** Turns Redis's default (passwordless) user off, so no client reaches the mesh without a role. */
export async function disableDefaultUser(redis: Redis): Promise<void> {
  await asAdmin('disabling the default Redis user', () => redis.call('ACL', 'SETUSER', 'default', 'off'));
}

/**
 * Makes the users outlive a Redis restart: ACL SAVE when Redis has an aclfile,
 * else CONFIG REWRITE when it has a config file; otherwise they are in memory only,
 * and the caller says so (a restart would lock every role out, failing closed).
 */
export async function persistAcl(redis: Redis): Promise<AclPersistence> {
  try {
    await redis.call('ACL', 'SAVE');
    return 'aclfile';
  } catch {
    // Not configured with an aclfile (or not allowed): try the config file.
  }
  try {
    await redis.call('CONFIG', 'REWRITE');
    return 'config';
  } catch {
    return 'memory';
  }
}

/** The node users of this mesh, by node name (empty when the caller may not list users). */
export async function nodeUsers(store: Store): Promise<Map<string, string>> {
  const prefix = store.options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const marker = roleUser(prefix, { kind: 'node', name: 'x' }).slice(0, -1);
  let users: string[];
  try {
    users = (await store.redis.call('ACL', 'USERS')) as string[];
  } catch {
    return new Map();
  }
  return new Map(users.filter((u) => u.startsWith(marker)).map((u) => [u.slice(marker.length), u]));
}
