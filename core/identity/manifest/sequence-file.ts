/**
 * The highest security-manifest sequence a reader (ambitd, the signer, a
 * waypoint) has accepted, kept on disk so a restart cannot be fed an older
 * signed manifest: a replayed one would still verify, and could still list an
 * enrollment, a policy or a revocation removed since. check.ts refuses any
 * sequence below the one given; this file is where that one survives the
 * process.
 *
 * Invariants:
 * - the value only rises: raise() ignores a lower or equal sequence, and every
 *   write stores the value current when it runs, so writes queued out of order
 *   never put an older one back;
 * - a reader never sees half a file: a temporary file beside the target is
 *   written, fsynced and renamed over it, then the directory is fsynced so
 *   the rename itself survives a power cut (mode 0600: only the process's user);
 * - a file that exists but does not hold exactly one non-negative integer is
 *   EIDENTITY_SEQUENCE_CORRUPT, never read as 0 (which would re-admit every
 *   replayed manifest); only a missing file means "nothing accepted yet".
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Counter } from 'prom-client';
import type { Logger } from '../../logging.js';
import { IdentityError } from '../errors.js';
import { writeFileSecure } from '../files.js';

/** The file's name in a state directory (ambitd's node dir, the CA dir, a waypoint's state dir). */
export const MANIFEST_SEQUENCE_FILE = 'manifest-sequence';

const DIGITS = /^(0|[1-9][0-9]*)\n?$/;

/**
 * Failed writes of the file, process-wide like the refusal counter
 * (trust/refusals.ts): each binary registers it in its own registry. A failed
 * write leaves the accepted sequence in memory only, so a restart would accept
 * a replay again: worth an alert.
 */
export const sequenceWriteFailures = new Counter({
  name: 'ambit_manifest_sequence_write_failures_total',
  help: 'Writes of the last accepted manifest sequence to the state directory that failed (a restart would forget it)',
  registers: [],
});

/** The sequence stored in `file`: 0 when there is none, EIDENTITY_SEQUENCE_CORRUPT when it does not parse. */
export async function loadSequence(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new IdentityError('EIDENTITY_SEQUENCE_CORRUPT', `cannot read the last accepted manifest sequence from ${file}: ${(err as Error).message}`, {
      path: file,
    });
  }
  const n = DIGITS.test(text) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new IdentityError(
      'EIDENTITY_SEQUENCE_CORRUPT',
      `${file} does not hold a manifest sequence (${JSON.stringify(text.slice(0, 40))}); ` +
        'restore it from a backup, or remove it to accept the manifest now in the store afresh (only once you know the store was not tampered with)',
      { path: file },
    );
  }
  return n;
}

/** Replaces `file` with `sequence`, atomically and durably. */
export async function storeSequence(file: string, sequence: number): Promise<void> {
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError(`manifest sequence ${sequence} is not a non-negative integer`);
  await writeFileSecure(file, `${sequence}\n`, { mode: 0o600, overwrite: true });
  // The rename is durable only once its directory is.
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** One reader's last accepted sequence: raised in memory at once, written behind in order. */
export class SequenceFile {
  #value: number;
  #persisted: Promise<void> = Promise.resolve();
  #writing = false;
  #dirty = false;
  readonly #log: Logger;

  private constructor(
    /** Undefined: kept in memory only (inMemory()). */
    readonly file: string | undefined,
    value: number,
    log: Logger,
  ) {
    this.#value = value;
    this.#log = log;
  }

  /** Reads `dir`/manifest-sequence (creating `dir`, 0700, when missing). */
  static async open(dir: string, log: Logger): Promise<SequenceFile> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, MANIFEST_SEQUENCE_FILE);
    const value = await loadSequence(file);
    log.debug({ file, sequence: value }, 'last accepted manifest sequence loaded');
    return new SequenceFile(file, value, log);
  }

  /**
   * For a reader with no state directory of its own (a signer given an
   * in-memory CA: tests and benches); a restart forgets what it accepted.
   */
  static inMemory(log: Logger): SequenceFile {
    return new SequenceFile(undefined, 0, log);
  }

  /** The highest sequence accepted (0: none yet). */
  get value(): number {
    return this.#value;
  }

  /** Records an accepted `sequence`; true when it was higher than the one held (a write follows). */
  raise(sequence: number): boolean {
    if (sequence <= this.#value) return false;
    this.#value = sequence;
    if (this.file === undefined) return true;
    this.#dirty = true;
    if (!this.#writing) this.#persisted = this.#drain(this.file);
    return true;
  }

  /** Resolves once every raise so far is on disk (or its write failed and was logged). */
  flushed(): Promise<void> {
    return this.#persisted;
  }

  // One write at a time, each of the latest value: a burst of raises costs at most two writes.
  async #drain(file: string): Promise<void> {
    this.#writing = true;
    try {
      while (this.#dirty) {
        this.#dirty = false;
        const value = this.#value;
        try {
          await storeSequence(file, value);
        } catch (err) {
          sequenceWriteFailures.inc();
          this.#log.error(
            { file, sequence: value, err: (err as Error).message },
            'could not persist the accepted manifest sequence; a restart would accept an older manifest again',
          );
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
