/**
 * Who may touch which key: the store's roles as Redis ACL rules. Redis itself
 * enforces them, so a host holding only its node credentials cannot write the
 * trust bundle, a policy, an enrollment, a token or another node's keys,
 * whatever client it runs. Three roles:
 *  - operator: everything under the mesh's prefix, and ACL SETUSER to create node
 *    users when it mints their join tokens (so it is the store's administrator);
 *  - signer: reads the mesh, pops signing requests, writes answers, nonces, issued
 *    records and token state;
 *  - node <name>: reads the mesh; writes only its heartbeat, its status report, its
 *    waypoints' readiness and its own signing answers; may append (never remove in
 *    bulk) to the signing queue; runs the rate-limit script on the shared buckets.
 * Scripts run with the caller's key permissions (Redis 7), so a node calling the
 * enroll or consume-token script fails with NOPERM on the first key it may not write:
 * that is what makes the write scripts callable only by the role they are for.
 */
import type { IdentityKeys } from '../identity/store/keys.js';
import type { Keys } from '../store/keys.js';
import { AccessError } from './errors.js';

export type StoreRole = { kind: 'operator' } | { kind: 'signer' } | { kind: 'node'; name: string };

/** Node names are SPIFFE path segments; these are the only characters a key pattern may then hold unescaped. */
const NODE_NAME = /^[A-Za-z0-9._-]{1,63}$/;

/** The ACL user of a role: `<prefix without its trailing colon>-operator`, `…-signer`, `…-node-<name>`. */
export function roleUser(prefix: string, role: StoreRole): string {
  const base = prefix.replace(/:$/, '') || 'ambit';
  if (role.kind !== 'node') return `${base}-${role.kind}`;
  checkNodeName(role.name);
  return `${base}-node-${role.name}`;
}

export function checkNodeName(name: string): void {
  if (!NODE_NAME.test(name)) {
    throw new AccessError('EACCESS_BAD_NODE_NAME', `node name ${JSON.stringify(name)} must be 1-63 characters of [A-Za-z0-9._-]`, { node: name });
  }
}

// Every role connects the same way: ioredis sends CLIENT SETNAME, INFO (its ready check),
// SELECT for a database in the URL, and uses MULTI for reads that must agree; doctor asks TIME.
const CLIENT_COMMANDS = ['+@connection', '+info', '+time', '+select', '+multi', '+exec', '+discard', '+watch', '+unwatch'];
const SUBSCRIBE_COMMANDS = ['+subscribe', '+unsubscribe', '+psubscribe', '+punsubscribe'];

/**
 * The ACL SETUSER arguments of a role, after `reset` and before the password:
 * key and channel patterns, commands, selectors. Pure, so it is tested as a table.
 */
export function roleRules(keys: Keys, identity: IdentityKeys, prefix: string, role: StoreRole): string[] {
  const all = `${prefix}*`;
  const subscribable = [keys.channel, identity.bundleChannel, keys.nodeChannel].map((c) => `&${c}`);
  switch (role.kind) {
    case 'operator':
      // The operator administers the store (it creates node users when it mints their join
      // tokens), so ACL is its; nothing outside the mesh's prefix is its business.
      return [`~${all}`, `&${all}`, '+@all', '-@dangerous', '+info', '+acl', '+config|rewrite'];
    case 'signer':
      return [
        `%R~${all}`,
        ...[identity.requests, identity.responsePattern(), identity.noncePattern, identity.issuedPattern(), identity.tokenPattern, identity.joinedPattern].map(
          (k) => `~${k}`,
        ),
        ...subscribable,
        ...CLIENT_COMMANDS,
        ...SUBSCRIBE_COMMANDS,
        '+@read',
        ...['+blpop', '+lpush', '+lrem', '+set', '+del', '+pexpire', '+expire', '+hset', '+eval', '+evalsha', '+script|load'],
      ];
    case 'node': {
      checkNodeName(role.name);
      const own = [keys.node(role.name), keys.nodeStatus(role.name), keys.waypointReady(role.name), identity.responsePattern(role.name)];
      return [
        `%R~${all}`,
        ...own.map((k) => `~${k}`),
        ...subscribable,
        ...CLIENT_COMMANDS,
        ...SUBSCRIBE_COMMANDS,
        '+@read',
        ...['+set', '+del', '+expire', '+pexpire', '+hset', '+hdel', '+blpop'],
        // Selectors: the signing queue takes appends (and taking back one's own request after
        // a timeout), never DEL or a pop; and the one channel a node may publish on says only
        // "re-read node <name>'s readiness", which readers check against that node's own key.
        `(~${identity.requests} +rpush +lrem)`,
        `(&${keys.nodeChannel} +publish)`,
        // Global RateLimit buckets, shared by the waypoints of every node: the one script that takes a
        // token (waypoint/ratelimit/buckets.ts) and what it runs, on those keys only. A node can thus
        // spend or refill rate-limit tokens, which grants nothing (docs/store-roles.md).
        `(~${keys.rateLimitPrefix}* +eval +evalsha +script|load +hmget +hset +pexpire +time)`,
      ];
    }
  }
}
