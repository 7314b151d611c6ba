/**
 * What `ambit apply -f` takes: files, directories (their *.yaml, *.yml and
 * *.json, sorted, not recursive) and `-` for standard input, read by the
 * caller and passed in as text.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { SourcedResource } from './duplicates.js';
import type { Resource } from './resource.js';
import { assertValid, readDocuments, type ParseOptions, type ParseResult } from './parse.js';

export interface LoadOptions extends ParseOptions {
  /** The text of standard input, used for the path `-`. */
  stdin?: string;
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

async function readOne(path: string, opts: LoadOptions): Promise<ParseResult> {
  if (path === '-') {
    if (opts.stdin === undefined)
      return { resources: [], errors: [new ConfigError('ECONFIG_READ', 'no standard input was given for "-"', { location: { file: STDIN_NAME } })] };
    return readDocuments(opts.stdin, STDIN_NAME, opts);
  }
  const files = await expand(path);
  const results = await Promise.all(files.map(async (f) => readDocuments(await readFile(f, 'utf8'), f, opts)));
  return { resources: results.flatMap((r) => r.resources), errors: results.flatMap((r) => r.errors) };
}

function readError(path: string, err: unknown): ParseResult {
  if (err instanceof ConfigError) return { resources: [], errors: [err] };
  const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
  return { resources: [], errors: [new ConfigError('ECONFIG_READ', `cannot read: ${reason}`, { location: { file: path } })] };
}

/** Every resource in `paths`, in order, each with its file and line; throws ConfigErrors listing every problem. */
export async function loadSources(paths: readonly string[], opts: LoadOptions = {}): Promise<SourcedResource[]> {
  const results = await Promise.all(paths.map((p) => readOne(p, opts).catch((err: unknown) => readError(p, err))));
  const sources = assertValid({ resources: results.flatMap((r) => r.resources), errors: results.flatMap((r) => r.errors) });
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
