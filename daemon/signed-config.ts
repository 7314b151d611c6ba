/**
 * The daemon's gate in front of the mesh state: a snapshot becomes state only
 * if its security content is what an operator signed (core/identity/manifest/
 * check.ts decides). The highest manifest sequence accepted is kept in the
 * node's state directory, so a restart cannot be fed an older signed manifest
 * (a replayed one that still lists an enrollment since removed). A refused
 * snapshot is logged and counted; the daemon keeps serving the last good one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TrustBundle } from '../core/identity/bundle.js';
import { writeFileSecure } from '../core/identity/files.js';
import { checkManifest, type ManifestVerdict } from '../core/identity/manifest/check.js';
import { countRefusal } from '../core/identity/trust/refusals.js';
import type { Snapshot } from '../core/store/types.js';

export const MANIFEST_SEQUENCE_FILE = 'manifest-sequence';

export class SignedConfigGate {
  #last: number;
  #persisted: Promise<void> = Promise.resolve();
  readonly #log: Logger;

  private constructor(
    readonly file: string,
    last: number,
    log: Logger,
  ) {
    this.#last = last;
    this.#log = log;
  }

  /** Reads the last accepted sequence from `dir` (0 when the node never accepted a manifest). */
  static async open(dir: string, log: Logger): Promise<SignedConfigGate> {
    const file = join(dir, MANIFEST_SEQUENCE_FILE);
    const text = await readFile(file, 'utf8').catch(() => '0');
    const last = Number(text.trim());
    return new SignedConfigGate(file, Number.isSafeInteger(last) && last >= 0 ? last : 0, log);
  }

  get lastSequence(): number {
    return this.#last;
  }

  check(snapshot: Snapshot, bundle: TrustBundle): ManifestVerdict {
    const verdict = checkManifest({
      record: snapshot.manifest,
      bundle,
      lastSequence: this.#last,
      resources: snapshot.resources.values(),
      endpoints: snapshot.endpoints.values(),
    });
    if (!verdict.accept) {
      countRefusal('manifest', verdict.reason);
      this.#log.error(
        { reason: verdict.reason, detail: verdict.detail, revision: snapshot.revision, lastSequence: this.#last },
        `config snapshot refused: ${verdict.detail}; keeping the last good one`,
      );
      return verdict;
    }
    if (verdict.sequence > this.#last) {
      this.#last = verdict.sequence;
      const text = `${verdict.sequence}\n`;
      this.#persisted = this.#persisted
        .then(() => writeFileSecure(this.file, text, { mode: 0o644, overwrite: true }))
        .catch((err: Error) => this.#log.warn({ err: err.message }, 'could not persist the manifest sequence'));
    }
    return verdict;
  }

  /** Resolves once the last accepted sequence is on disk (tests, shutdown). */
  flushed(): Promise<void> {
    return this.#persisted;
  }
}
