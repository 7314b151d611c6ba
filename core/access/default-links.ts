/**
 * Whether Redis's default user can be turned off without breaking the store's own
 * plumbing. A replica authenticates to its master as `masteruser` (default: the
 * default user) and a sentinel to every server as its `auth-user` (default: the
 * default user). Their open links survive `ACL SETUSER default off`, but their next
 * reconnect is refused, so replication stops and Sentinel marks the master down and
 * cannot reconfigure anything: the failure would show up hours later, far from its
 * cause. So `ambit store init` looks first and refuses, naming each link, until each
 * has its own ACL user (docs/store-roles.md, "Sentinel and replicas").
 */
import type { AclFleet } from './acl-fleet.js';
import { AccessError } from './errors.js';

/** One CLIENT LIST line, as fields. */
export function parseClientList(text: string): Map<string, string>[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim())
    .map((line) => new Map(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string])));
}

/**
 * What would break, as sentences: replica links (flag S) and sentinel connections
 * (named sentinel-<id>-cmd / -pubsub by Sentinel) that use the default user, and, where
 * the store is replicated, servers without a masteruser (after a failover they would
 * replicate from the new master as the default user).
 */
export async function defaultLinks(fleet: AclFleet): Promise<string[]> {
  const problems: string[] = [];
  for (const { member, reply } of await fleet.ask(['CLIENT', 'LIST'])) {
    for (const client of parseClientList(String(reply))) {
      if (client.get('user') !== 'default') continue;
      const from = client.get('addr') ?? 'unknown';
      if (client.get('flags')?.includes('S')) problems.push(`the replica at ${from} replicates from ${member.address} as the default user`);
      else if (/^sentinel-/.test(client.get('name') ?? '')) problems.push(`a sentinel (${from}) connects to ${member.address} as the default user`);
    }
  }
  if (fleet.replicated) {
    for (const { member, reply } of await fleet.ask(['CONFIG', 'GET', 'masteruser'])) {
      const value = Array.isArray(reply) ? String(reply[1] ?? '') : '';
      if (!value) problems.push(`${member.address} has no masteruser, so as a replica it would authenticate as the default user`);
    }
  }
  return problems;
}

export async function checkNoDefaultLinks(fleet: AclFleet): Promise<void> {
  let problems: string[];
  try {
    problems = await defaultLinks(fleet);
  } catch (err) {
    problems = [`cannot check (${(err as Error).message})`];
  }
  if (!problems.length) return;
  throw new AccessError(
    'EACCESS_DEFAULT_IN_USE',
    `turning Redis's default user off would break the store: ${problems.join('; ')}. Give replication and Sentinel their own ACL users (masteruser/masterauth on every server, sentinel auth-user/auth-pass; see docs/store-roles.md) and run this again, or pass --keep-default-user`,
    { problems },
  );
}
