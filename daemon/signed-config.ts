/**
 * The daemon's gate in front of the mesh state: a snapshot becomes state only
 * if its security content is what an operator signed (core/identity/manifest/
 * check.ts decides). The highest manifest sequence accepted is kept in the
 * node's state directory (core/identity/manifest/sequence-file.ts), so a
 * restart cannot be fed an older signed manifest (a replayed one that still
 * lists an enrollment since removed). A refused snapshot is logged and
 * counted; the daemon keeps serving the last good one.
 */
import type { Logger } from 'pino';
import type { TrustBundle } from '../core/identity/bundle.js';
import { checkManifest, type ManifestVerdict } from '../core/identity/manifest/check.js';
import { SequenceFile } from '../core/identity/manifest/sequence-file.js';
import { countRefusal } from '../core/identity/trust/refusals.js';
import type { Snapshot } from '../core/store/types.js';

export class SignedConfigGate {
  readonly #sequence: SequenceFile;
  readonly #log: Logger;

  private constructor(sequence: SequenceFile, log: Logger) {
    this.#sequence = sequence;
    this.#log = log;
  }

  /** Reads the last accepted sequence from `dir` (0 when the node never accepted a manifest; a corrupt file throws). */
  static async open(dir: string, log: Logger): Promise<SignedConfigGate> {
    return new SignedConfigGate(await SequenceFile.open(dir, log), log);
  }

  get lastSequence(): number {
    return this.#sequence.value;
  }

  check(snapshot: Snapshot, bundle: TrustBundle): ManifestVerdict {
    const verdict = checkManifest({
      record: snapshot.manifest,
      bundle,
      lastSequence: this.#sequence.value,
      resources: snapshot.resources.values(),
      endpoints: snapshot.endpoints.values(),
    });
    if (!verdict.accept) {
      countRefusal('manifest', verdict.reason);
      this.#log.error(
        { reason: verdict.reason, detail: verdict.detail, revision: snapshot.revision, lastSequence: this.#sequence.value },
        `config snapshot refused: ${verdict.detail}; keeping the last good one`,
      );
      return verdict;
    }
    this.#sequence.raise(verdict.sequence);
    return verdict;
  }

  /** Resolves once the last accepted sequence is on disk (tests, shutdown). */
  flushed(): Promise<void> {
    return this.#sequence.flushed();
  }
}
