/**
 * Signed writes: every change to policy or enrollments re-signs the manifest
 * in the same store script (core/store/scripts.ts), with a compare-and-set on
 * the manifest's sequence so two operators cannot lose each other's change
 * (the loser re-reads, re-applies its change and signs again). The manifest
 * being extended is verified first, against the roots the operator trusts, so
 * an operator never countersigns entries the store slipped in.
 */
import { refKey, type Resource, type ResourceRef } from '../../config/resource.js';
import { isAmbitError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import type { DeleteOptions, EndpointRecord, ManifestWrite, UnenrollFilter } from '../../store/types.js';
import { createBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import type { Operator } from '../operator.js';
import { verifyManifestRecord } from './check.js';
import {
  EMPTY_BODY,
  openManifest,
  isSecurityKey,
  isSecurityResource,
  sameBody,
  signManifest,
  withEnrollments,
  withResources,
  withRevocations,
  type ManifestBody,
} from './format.js';
import { admitNode, isNodeRevoked, revokeNode, type IssuedSerial } from '../revocation/list.js';

const ATTEMPTS = 5;

/**
 * Runs `write` with a manifest that `change` made from the current one (none
 * when the change leaves it as it is), retrying when another operator won.
 */
export async function signedChange<T>(
  store: Store,
  operator: Operator,
  change: (body: ManifestBody) => ManifestBody,
  write: (manifest: ManifestWrite | undefined) => Promise<T>,
  options: { force?: boolean } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const stored = await store.manifest();
    let body = EMPTY_BODY;
    let signedSequence = 0;
    if (stored.record) {
      const verified = verifyManifestRecord(stored.record, createBundle(operator.spiffeId.trustDomain, operator.roots));
      if (!verified.ok) {
        throw new IdentityError(
          'EIDENTITY_MANIFEST_INVALID',
          `the security manifest in the store does not verify (${verified.reason}: ${verified.detail}); someone without the operator key wrote it: investigate before signing over it (\`ambit operator resign --adopt\` vouches for the store as it is)`,
        );
      }
      body = verified.manifest;
      signedSequence = verified.manifest.sequence;
    }
    const next = change(body);
    if (!options.force && sameBody(next, body)) return write(undefined);
    const sequence = Math.max(stored.sequence, signedSequence) + 1;
    try {
      return await write({ expect: stored.sequence, sequence, record: signManifest(operator, next, sequence) });
    } catch (err) {
      if (attempt < ATTEMPTS && isAmbitError(err) && err.code === 'ESTORE_CONFLICT' && /security manifest/.test(err.message)) continue;
      throw err;
    }
  }
}

export function signedApply(store: Store, operator: Operator, resources: Resource[]): ReturnType<Store['apply']> {
  if (!resources.some(isSecurityResource)) return store.apply(resources);
  return signedChange(
    store,
    operator,
    (b) => withResources(b, resources),
    (m) => store.apply(resources, m),
  );
}

export function signedDelete(store: Store, operator: Operator, refs: ResourceRef[], opts: DeleteOptions = {}): ReturnType<Store['delete']> {
  const keys = refs.map(refKey).filter(isSecurityKey);
  if (keys.length === 0) return store.delete(refs, opts);
  return signedChange(
    store,
    operator,
    (b) => withResources(b, [], keys),
    (m) => store.delete(refs, opts, m),
  );
}

export function signedEnroll(store: Store, operator: Operator, endpoint: EndpointRecord): ReturnType<Store['enroll']> {
  return signedChange(
    store,
    operator,
    (b) => withEnrollments(b, [endpoint]),
    (m) => store.enroll(endpoint, m),
  );
}

/** The manifest keys an unenroll removes: the same match the unenroll script makes on endpoint keys. */
function unenrolled(body: ManifestBody, namespace: string, service: string, filter: UnenrollFilter): string[] {
  return Object.keys(body.enrollments).filter((key) => {
    const m = /^([^/]+)\/([^/]+)\/([^/]+)\/(.+):(\d+)$/.exec(key);
    if (!m || m[1] !== namespace || m[2] !== service) return false;
    return (
      (!filter.node || filter.node === m[3]) && (!filter.address || filter.address === m[4]) && (filter.port === undefined || String(filter.port) === m[5])
    );
  });
}

export function signedUnenroll(
  store: Store,
  operator: Operator,
  namespace: string,
  service: string,
  filter: UnenrollFilter = {},
): ReturnType<Store['unenroll']> {
  return signedChange(
    store,
    operator,
    (b) => withEnrollments(b, [], unenrolled(b, namespace, service, filter)),
    (m) => store.unenroll(namespace, service, filter, m),
  );
}

/**
 * `ambit node remove`: the node's name and the certificates it holds go on the
 * signed revocation list, in one signed manifest write of their own, made
 * before anything else of the removal so that a removal cut short still
 * revokes. Returns the manifest sequence written.
 */
export function signedRevokeNode(store: Store, operator: Operator, node: string, issued: readonly IssuedSerial[]): Promise<number> {
  return signedChange(
    store,
    operator,
    (b) => withRevocations(b, (list) => revokeNode(list, node, issued)),
    async (m) => {
      if (m) await store.writeManifest(m);
      return m?.sequence ?? 0;
    },
  );
}

/**
 * A new token for a removed name: the name leaves the revocation list (its old
 * serials stay on it), so the node that joins with the token is admitted.
 * Returns whether the name was listed.
 */
export async function signedAdmitNode(store: Store, operator: Operator, node: string): Promise<boolean> {
  let listed = false;
  await signedChange(
    store,
    operator,
    (b) => {
      listed = isNodeRevoked(b.revoked, node);
      return withRevocations(b, (list) => admitNode(list, node));
    },
    async (m) => {
      if (m) await store.writeManifest(m);
    },
  );
  return listed;
}

/**
 * Signs the manifest again: with the same entries and a new sequence (after a
 * root rotation, so it verifies under the new root), or, with `adopt`, with
 * whatever the store holds now: how a mesh that predates signed configuration
 * moves to it, and how an operator vouches for the store after checking it.
 */
export async function resignManifest(store: Store, operator: Operator, options: { adopt?: boolean } = {}): Promise<number> {
  if (options.adopt) {
    const snap = await store.snapshot();
    const stored = await store.manifest();
    // Revocations are not in the store outside the manifest: keep those of the stored one if it
    // verifies (adopting must not re-admit a removed node); an unverifiable one revokes nothing we can trust.
    const current = stored.record ? verifyManifestRecord(stored.record, createBundle(operator.spiffeId.trustDomain, operator.roots)) : undefined;
    const base = current?.ok ? withRevocations(EMPTY_BODY, () => current.manifest.revoked) : EMPTY_BODY;
    const body = withEnrollments(withResources(base, [...snap.resources.values()]), [...snap.endpoints.values()]);
    // Above anything any reader may have accepted: the plain field is the store's word, the signed one is not.
    const sequence = Math.max(stored.sequence, (stored.record && openManifest(stored.record)?.manifest.sequence) || 0) + 1;
    await store.writeManifest({ expect: stored.sequence, sequence, record: signManifest(operator, body, sequence) });
    return sequence;
  }
  return signedChange(
    store,
    operator,
    (b) => b,
    async (m) => {
      if (m) await store.writeManifest(m);
      return m?.sequence ?? 0;
    },
    { force: true },
  );
}
