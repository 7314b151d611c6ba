/**
 * Bounds on what one `ambit apply -f` (or `delete -f`) reads. The store
 * writes a batch as one Lua script, which holds Redis for its whole run, and
 * parsing keeps every document in memory several times over: 60,000
 * documents once ran for 31 s and 700 MB before failing with nothing but
 * "Maximum call stack size exceeded". Past these bounds the input is refused
 * before it is parsed or validated, with the file, its size or count, the
 * limit and what to do; nothing is stored (apply stays all-or-nothing).
 */
import { ConfigError } from '../errors.js';

/** Documents in one apply, over all its files. Istio's own samples are tens; a whole mesh rarely a few thousand. */
export const MAX_APPLY_DOCUMENTS = 10_000;

/** Bytes of one input (a file, or standard input). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export interface InputLimits {
  maxDocuments: number;
  maxBytes: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = { maxDocuments: MAX_APPLY_DOCUMENTS, maxBytes: MAX_INPUT_BYTES };

const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/** `bytes` undefined: standard input, which stops being read once it is over the limit. */
export function inputTooLarge(file: string, limit: number, bytes?: number): ConfigError {
  return new ConfigError(
    'ECONFIG_TOO_LARGE',
    `${bytes === undefined ? `more than ${limit} bytes (${mib(limit)}), the most one input may hold` : `${bytes} bytes (${mib(bytes)}), more than the ${limit} (${mib(limit)}) one input may hold`}; split it into several files and apply them one after another`,
    { location: { file } },
  );
}

/**
 * `counts`: documents per file, in the order given; those with none are left
 * out of the message. `atLeast`: reading stopped at the first one over the limit.
 */
export function tooManyDocuments(counts: ReadonlyArray<{ file: string; documents: number }>, limit: number, atLeast = false): ConfigError {
  const total = counts.reduce((sum, c) => sum + c.documents, 0);
  const named = counts.filter((c) => c.documents > 0);
  const file = named.length === 1 ? named[0]!.file : named.map((c) => `${c.file} (${c.documents})`).join(', ');
  return new ConfigError(
    'ECONFIG_TOO_MANY_DOCUMENTS',
    `${atLeast ? `more than ${limit} documents, the most one apply takes` : `${total} documents, more than the ${limit} one apply takes`}; split them into files of at most ${limit} documents and apply those one after another`,
    { location: { file } },
  );
}
