/**
 * The trust bundle an attacker with full access to Redis, and no CA key, can
 * write: a root of their own, listed alone or beside the mesh's real roots,
 * signed with their own key, in the stored form (the `bundle` and `signed`
 * fields of the bundle hash). How it gets into Redis is the test's business
 * (ioredis, redis-cli in a namespace).
 */
import { createRootCA, type SigningCA } from '../../core/identity/ca.js';
import { createBundle, serializeBundle } from '../../core/identity/bundle.js';
import { serializeSignedBundle, signBundle } from '../../core/identity/trust/signed-bundle.js';

export interface ForgedBundle {
  /** The attacker's CA: its key signed the record, and it can issue leaves that chain to it. */
  ca: SigningCA;
  fields: { bundle: string; signed: string };
}

/** With `ca`, the attacker's CA from an earlier step; without, a new one (named like the real root, as an impostor would). */
export async function forgeBundle(trustDomain: string, options: { sequence: number; alsoList?: readonly string[]; ca?: SigningCA }): Promise<ForgedBundle> {
  const ca = options.ca ?? (await createRootCA({ trustDomain, commonName: `ambit root CA ${trustDomain}` }));
  const bundle = createBundle(trustDomain, [...(options.alsoList ?? []), ca.root.pem]);
  const signed = await signBundle(bundle, options.sequence, ca);
  return { ca, fields: { bundle: serializeBundle(bundle), signed: serializeSignedBundle(signed) } };
}
