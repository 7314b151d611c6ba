/**
 * A join token that also opens the store to its node. When the store runs with
 * roles, the operator minting a token for node N creates N's Redis user, whose
 * password only the token's holder can derive; the node then connects as N, and
 * as nobody else, from its very first command. The token says so in its prefix,
 * so a node knows which credentials to use without asking the store.
 */
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import type { Store } from '../store/index.js';
import { signedAdmitNode } from '../identity/manifest/writer.js';
import type { Operator } from '../identity/operator.js';
import { checkNotJoined } from '../identity/store/joined.js';
import { createJoinToken, type CreatedToken } from '../identity/store/tokens.js';
import { AclFleet, weakest, type AclServerReport } from './acl-fleet.js';
import { persistAcl, rolesInUse, setRoleUser, type AclPersistence } from './admin.js';
import { nodePassword, type StoreCredentials } from './credentials.js';
import { roleUser } from './roles.js';

const ROLE_TOKEN_PREFIX = 'ambit-join-acl-';

export interface MintedToken extends CreatedToken {
  /** The node's Redis user, when the store runs with roles. */
  user?: string;
  /** The weakest persistence of any server (what to warn about). */
  persistence?: AclPersistence;
  /** Every server that got the user (the master and each replica). */
  servers?: AclServerReport[];
  /** The name was on the revocation list (a removed node) and was lifted for this token. */
  readmitted: boolean;
}

/**
 * The token is signed with the operator key (the signer honours no other). A
 * name removed with `ambit node remove` is on the signed revocation list; the
 * operator minting a token for it is the decision to let it back, so the name
 * leaves the list here, in a signed manifest write, before the token exists.
 * Its old certificates stay revoked.
 */
export async function mintNodeToken(store: Store, operator: Operator, options: { ttlSeconds: number; node: string }): Promise<MintedToken> {
  // A token for a joined name could never be used (the signer refuses a second join), and with
  // roles it would reset the running node's password: refuse it here, with the way out.
  await checkNotJoined(store, options.node);
  if (!(await rolesInUse(store.redis))) {
    const readmitted = await signedAdmitNode(store, operator, options.node);
    return { ...(await createJoinToken(store, { ...options, operator })), readmitted };
  }
  // Every replica answers before the token exists: a token whose user is missing on a replica
  // would stop working at the next failover. (And before the name is re-admitted: a refusal changes nothing.)
  const fleet = await AclFleet.open(store.redis);
  try {
    const readmitted = await signedAdmitNode(store, operator, options.node);
    const created = await createJoinToken(store, { ...options, operator, tokenPrefix: ROLE_TOKEN_PREFIX });
    const prefix = store.options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    const user = await setRoleUser(fleet, prefix, { kind: 'node', name: options.node }, nodePassword(created.token));
    const servers = await persistAcl(fleet);
    return { ...created, user, persistence: weakest(servers), servers, readmitted };
  } finally {
    await fleet.close();
  }
}

/** The store credentials a token carries for `node`, or undefined for a store without roles. */
export function tokenCredentials(token: string, prefix: string, node: string): StoreCredentials | undefined {
  if (!token.trim().startsWith(ROLE_TOKEN_PREFIX)) return undefined;
  return { username: roleUser(prefix, { kind: 'node', name: node }), password: nodePassword(token) };
}
