/**
 * What `ambit apply -f` takes: files, directories (their *.yaml, *.yml and
 * *.json, sorted, not recursive) and `-` for standard input, read by the
 * caller and passed in as text.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, ConfigErrors } from '../errors.js';
import type { SourcedResource } from './duplicates.js';
import { DEFAULT_INPUT_LIMITS, inputTooLarge, tooManyDocuments, type InputLimits } from './input-limits.js';
import type { Resource } from './resource.js';
import { assertValid, readDocuments, type ParseOptions, type ParseResult } from './parse.js';

export interface LoadOptions extends Omit<ParseOptions, 'maxDocuments'> {
  /** The text of standard input, used for the path `-`. */
  stdin?: string;
  /** Documents per apply and bytes per input (default input-limits.ts). */
  limits?: Partial<InputLimits>;
}

export const STDIN_NAME = '<stdin>';
const CONFIG_FILE = /\.(ya?ml|json)$/i;

async function expand(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => CONFIG_FILE.test(n)).sort();
  if (names.length === 0)
    throw new ConfigError('ECONFIG_EMPTY', 'a directory without *.yaml, *.yml or *.json files (subdirectories are not read)', { location: { file: path } });
  return names.map((n) => join(path, n));
}

type FileResult = ParseResult & { file: string };

const failed = (file: string, error: ConfigError): FileResult => ({ file, resources: [], errors: [error], documents: 0 });

/** One file's result; a file over the size limit is refused unread. */
async function readText(file: string, opts: LoadOptions, limits: InputLimits): Promise<FileResult> {
  const { size } = await stat(file);
  if (size > limits.maxBytes) return failed(file, inputTooLarge(file, limits.maxBytes, size));
  return { file, ...readDocuments(await readFile(file, 'utf8'), file, { ...opts, maxDocuments: limits.maxDocuments }) };
}

async function readOne(path: string, opts: LoadOptions, limits: InputLimits): Promise<FileResult[]> {
  if (path === '-') {
    if (opts.stdin === undefined)
      return [failed(STDIN_NAME, new ConfigError('ECONFIG_READ', 'no standard input was given for "-"', { location: { file: STDIN_NAME } }))];
    const bytes = Buffer.byteLength(opts.stdin);
    if (bytes > limits.maxBytes) return [failed(STDIN_NAME, inputTooLarge(STDIN_NAME, limits.maxBytes, bytes))];
    return [{ file: STDIN_NAME, ...readDocuments(opts.stdin, STDIN_NAME, { ...opts, maxDocuments: limits.maxDocuments }) }];
  }
  const files = await expand(path);
  return Promise.all(files.map((f) => readText(f, opts, limits)));
}

function readError(path: string, err: unknown): FileResult[] {
  if (err instanceof ConfigError) return [failed(path, err)];
  const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
  return [failed(path, new ConfigError('ECONFIG_READ', `cannot read: ${reason}`, { location: { file: path } }))];
}

/**
 * Every resource in `paths`, in order, each with its file and line; throws
 * ConfigErrors listing every problem. Past a limit (input-limits.ts) that is
 * the only problem reported: the documents are not worth validating in one apply.
 */
export async function loadSources(paths: readonly string[], opts: LoadOptions = {}): Promise<SourcedResource[]> {
  const limits = { ...DEFAULT_INPUT_LIMITS, ...opts.limits };
  const results = (await Promise.all(paths.map((p) => readOne(p, opts, limits).catch((err: unknown) => readError(p, err))))).flat();
  const overLimit = results.flatMap((r) => r.errors).filter((e) => e.code === 'ECONFIG_TOO_LARGE' || e.code === 'ECONFIG_TOO_MANY_DOCUMENTS');
  if (overLimit.length > 0) throw new ConfigErrors(overLimit);
  const documents = results.reduce((sum, r) => sum + r.documents, 0);
  if (documents > limits.maxDocuments) {
    throw new ConfigErrors([
      tooManyDocuments(
        results.map((r) => ({ file: r.file, documents: r.documents })),
        limits.maxDocuments,
      ),
    ]);
  }
  const sources = assertValid({ resources: results.flatMap((r) => r.resources), errors: results.flatMap((r) => r.errors), documents });
  // Applying nothing is never what was meant: a wrong path or an empty pipe should not pass as success.
  if (sources.length === 0) {
    throw new ConfigError('ECONFIG_EMPTY', 'no resources found: expected Istio or ambit YAML documents (apiVersion, kind, metadata, spec)', {
      location: { file: paths.map((p) => (p === '-' ? STDIN_NAME : p)).join(', ') },
    });
  }
  return sources;
}

export async function loadFiles(paths: readonly string[], opts: LoadOptions = {}): Promise<Resource[]> {
  return (await loadSources(paths, opts)).map((s) => s.resource);
}
