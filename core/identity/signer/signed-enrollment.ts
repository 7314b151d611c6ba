/**
 * The signer issues a workload certificate only for an enrollment an operator
 * signed: the endpoint that makes the identity enrolled on the asking node
 * must be listed, with its digest, in a manifest whose operator chain ends at
 * a root the signer trusts, and that manifest's sequence may not be below one
 * the signer already accepted (kept in the CA dir, so a restarted signer
 * still refuses an older one). An enrollment written straight into Redis, or
 * revived from an older manifest after an unenroll, gets nothing.
 */
import type { Store } from '../../store/index.js';
import { endpointKey } from '../../store/keys.js';
import type { EndpointRecord } from '../../store/types.js';
import type { TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { verifyManifestRecord } from '../manifest/check.js';
import { enrollmentDigest, type Manifest } from '../manifest/format.js';
import type { SequenceFile } from '../manifest/sequence-file.js';
import { countRefusal, type RefusalReason } from '../trust/refusals.js';

/** What one signer has accepted so far; a verified record is kept so requests do not re-verify it. */
export class SignedManifests {
  readonly #sequence: SequenceFile;
  #cached: { record: string; bundle: TrustBundle; manifest: Manifest } | undefined;

  constructor(sequence: SequenceFile) {
    this.#sequence = sequence;
  }

  /** The highest sequence accepted (0: none yet). */
  get lastSequence(): number {
    return this.#sequence.value;
  }

  /** Resolves once the highest accepted sequence is on disk. */
  flushed(): Promise<void> {
    return this.#sequence.flushed();
  }

  verify(record: string | undefined, bundle: TrustBundle): { ok: true; manifest: Manifest } | { ok: false; reason: RefusalReason; detail: string } {
    if (!record) return { ok: false, reason: 'unsigned', detail: 'the store holds no signed security manifest' };
    let manifest = this.#cached?.record === record && this.#cached.bundle === bundle ? this.#cached.manifest : undefined;
    if (!manifest) {
      const verified = verifyManifestRecord(record, bundle);
      if (!verified.ok) return verified;
      manifest = verified.manifest;
      this.#cached = { record, bundle, manifest };
    }
    const last = this.#sequence.value;
    if (manifest.sequence < last) {
      return { ok: false, reason: 'rollback', detail: `manifest sequence ${manifest.sequence} is below the accepted ${last} (a replayed manifest)` };
    }
    this.#sequence.raise(manifest.sequence);
    return { ok: true, manifest };
  }
}

export async function checkSignedEnrollment(
  store: Store,
  manifests: SignedManifests,
  bundle: TrustBundle,
  endpoints: readonly EndpointRecord[],
  uri: string,
): Promise<void> {
  const { record } = await store.manifest();
  const verified = manifests.verify(record, bundle);
  const refuse = (reason: RefusalReason, detail: string): never => {
    countRefusal('enrollment', reason);
    throw new IdentityError('EIDENTITY_NOT_SIGNED', `request refused: ${uri}: ${detail}`, { spiffeId: uri, reason });
  };
  if (!verified.ok) return refuse(verified.reason, verified.detail);
  const listed = verified.manifest.enrollments;
  if (endpoints.some((ep) => listed[endpointKey(ep)] === enrollmentDigest(ep))) return;
  const keys = endpoints.map(endpointKey);
  return refuse(
    keys.some((k) => listed[k] !== undefined) ? 'digest-mismatch' : 'extra-entry',
    `the enrollment (${keys.join(', ')}) is not in the operator-signed manifest (sequence ${verified.manifest.sequence})`,
  );
}
