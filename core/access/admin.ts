/**
 * Creating, changing and removing the store's role users in Redis. Only an
 * administrator may (ACL SETUSER): `ambit store init` once, then the operator,
 * who creates a node's user when it mints that node's join token and deletes it
 * with `ambit node remove`. Passwords go to Redis as SHA-256 (`#<hex>`), so ACL
 * LIST and a copy of the ACL file never show one. Each change goes to every server
 * of the store (core/access/acl-fleet.ts): Redis does not replicate ACL users.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { identityKeysFor } from '../identity/store/keys.js';
import { DEFAULT_KEY_PREFIX, keysFor } from '../store/keys.js';
import type { Store } from '../store/index.js';
import { checkNoDefaultLinks } from './default-links.js';
import type { AclFleet, AclServerReport } from './acl-fleet.js';
import { roleRules, roleUser, type StoreRole } from './roles.js';

export type { AclPersistence } from './acl-fleet.js';

export async function whoami(redis: Redis): Promise<string> {
  return String(await redis.call('ACL', 'WHOAMI'));
}

/** True when this store is run with roles: the caller is a named user, not Redis's default. */
export async function rolesInUse(redis: Redis): Promise<boolean> {
  return (await whoami(redis)) !== 'default';
}

/** Creates (or resets) a role's user on every server of the store. */
export async function setRoleUser(fleet: AclFleet, prefix: string, role: StoreRole, password: string): Promise<string> {
  const user = roleUser(prefix, role);
  const rules = roleRules(keysFor(prefix), identityKeysFor(prefix), prefix, role);
  const digest = createHash('sha256').update(password).digest('hex');
  await fleet.run(`creating Redis user ${user}`, ['ACL', 'SETUSER', user, 'reset', 'on', `#${digest}`, ...rules]);
  return user;
}

/** Removes a role's user everywhere; Redis closes its open connections. Returns whether the master had it. */
export async function deleteRoleUser(fleet: AclFleet, prefix: string, role: StoreRole): Promise<boolean> {
  const user = roleUser(prefix, role);
  const removed = await fleet.run(`deleting Redis user ${user}`, ['ACL', 'DELUSER', user]);
  return Number(removed) > 0;
}

/**
 * Turns Redis's default (passwordless) user off everywhere, so no client reaches the
 * mesh without a role. Refused while a replica or a sentinel still authenticates as
 * the default user (checkNoDefaultLinks): its next reconnect would fail, stopping
 * replication or failover.
 */
export async function disableDefaultUser(fleet: AclFleet): Promise<void> {
  await checkNoDefaultLinks(fleet);
  await fleet.run('disabling the default Redis user', ['ACL', 'SETUSER', 'default', 'off']);
}

/** ACL SAVE, else CONFIG REWRITE, else memory only, on every server; see AclFleet.persist. */
export function persistAcl(fleet: AclFleet): Promise<AclServerReport[]> {
  return fleet.persist();
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
