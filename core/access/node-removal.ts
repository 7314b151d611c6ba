/**
 * `ambit node remove`: the operator's way to take a node's identity away. After
 * it the node's store user is gone (Redis closes its connections), its join
 * record is gone (so the signer refuses its renewals and workload requests, and
 * the name can join again only with a new token), and nothing stays enrolled on
 * it. The certificates it already holds still chain to the root until they
 * expire, so, when the mesh has an operator key, its name and their serials go
 * on the revocation list of the operator-signed manifest (in a signed write of
 * their own, right after the store user): daemons refuse them on 15008 and when dialling, and the
 * signer refuses the name and the serials whatever the store says. Its
 * enrollments leave the manifest with its endpoints (signed unenrolls), so the
 * signed view and the store stay one.
 */
import type { Operator } from '../identity/operator.js';
import { signedRevokeNode, signedUnenroll } from '../identity/manifest/writer.js';
import { forgetJoined } from '../identity/store/joined.js';
import { listIssued } from '../identity/store/issued.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import type { Store } from '../store/index.js';
import { AclFleet, type AclServerReport } from './acl-fleet.js';
import { deleteRoleUser, persistAcl, rolesInUse } from './admin.js';
import { checkNodeName, roleUser } from './roles.js';

export interface NodeRemoval {
  /** The Redis user deleted, when the store runs with roles. */
  user?: string;
  /** Every server the user was deleted on (the master and each replica). */
  servers?: AclServerReport[];
  joined: boolean;
  endpoints: number;
  /** Serials of the certificates it still holds, which will not be renewed. */
  serials: string[];
  /** When the last of them expires. */
  lastExpiry?: string;
  /** The manifest sequence that revoked them (absent: no operator key, nothing revoked). */
  revokedAt?: number;
}

/** `operator` absent only for a mesh without a CA (nothing was issued, nothing to revoke). */
export async function removeNode(store: Store, name: string, operator?: Operator): Promise<NodeRemoval> {
  checkNodeName(name);
  const out: NodeRemoval = { joined: false, endpoints: 0, serials: [] };
  // The store user first: from here on the node can no longer write anything, even while we clean up.
  if (await rolesInUse(store.redis)) {
    // On every replica too, or a failover would bring the removed node's user back.
    const fleet = await AclFleet.open(store.redis);
    try {
      const prefix = store.options.keyPrefix ?? DEFAULT_KEY_PREFIX;
      if (await deleteRoleUser(fleet, prefix, { kind: 'node', name })) out.user = roleUser(prefix, { kind: 'node', name });
      out.servers = await persistAcl(fleet);
    } finally {
      await fleet.close();
    }
  }
  // Revoked next, before the join record goes: the certificates are what can still open a tunnel.
  const issued = await listIssued(store, { node: name });
  if (operator) out.revokedAt = await signedRevokeNode(store, operator, name, issued);
  out.joined = await forgetJoined(store, name);
  const services = new Map<string, { namespace: string; service: string }>();
  for (const ep of await store.listEndpoints({ node: name })) services.set(`${ep.namespace}/${ep.service}`, ep);
  for (const { namespace, service } of services.values()) {
    const filter = { node: name };
    out.endpoints += (operator ? await signedUnenroll(store, operator, namespace, service, filter) : await store.unenroll(namespace, service, filter)).removed;
  }
  out.serials = issued.map((r) => r.serial);
  const last = issued
    .map((r) => r.notAfter)
    .sort()
    .at(-1);
  if (last) out.lastExpiry = last;
  await store.redis.del(store.keys.node(name), store.keys.nodeStatus(name), store.keys.waypointReady(name));
  return out;
}
