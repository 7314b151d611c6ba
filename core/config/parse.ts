/**
 * Multi-document YAML (or JSON) text to validated resources, with every
 * problem in the text reported at once, each with its file and line.
 */
import { LineCounter, isScalar, parseAllDocuments, type Document, type YAMLError } from 'yaml';
import { ConfigError, ConfigErrors } from '../errors.js';
import { resourceLabel, validateDocument } from './document.js';
import { duplicateErrors, type SourcedResource } from './duplicates.js';
import { documentItems } from './list.js';
import { formatPath } from './path.js';
import type { Resource } from './resource.js';
import type { Issue } from './schema.js';
import { LineIndex } from './source-map.js';

export interface ParseOptions {
  /** Namespace of documents whose metadata has none (default "default"). */
  defaultNamespace?: string;
}

export interface ParseResult {
  resources: SourcedResource[];
  errors: ConfigError[];
}

function yamlError(err: YAMLError, file: string): ConfigError {
  // yaml appends " at line L, column C:" and a code excerpt; the location has its own place.
  const detail = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new ConfigError('ECONFIG_YAML', `invalid YAML: ${detail}`, { location: { file, line: err.linePos?.[0].line } });
}

/** A trailing `---` or a comment-only document parses to an empty scalar. */
function isEmpty(doc: Document): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

/** Alias bombs ("billion laughs") make toJS throw; that is the document's fault, not ours. */
function toJS(doc: Document, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return new ConfigError('ECONFIG_YAML', `invalid YAML: ${(err as Error).message}`, { location: { file } });
  }
}

/** Parses without throwing, so a caller reading several files can report them all. */
export function readDocuments(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  const counter = new LineCounter();
  const result: ParseResult = { resources: [], errors: [] };
  for (const doc of parseAllDocuments(text, { lineCounter: counter, prettyErrors: true })) {
    if (doc.errors.length > 0) {
      result.errors.push(...doc.errors.map((e) => yamlError(e, file)));
      continue;
    }
    if (isEmpty(doc)) continue;
    const raw = toJS(doc, file);
    if (raw instanceof ConfigError) {
      result.errors.push(raw);
      continue;
    }
    const lines = new LineIndex(doc, counter);
    const listIssues: Issue[] = [];
    for (const item of documentItems(raw, listIssues)) {
      const issues: Issue[] = [];
      const resource = validateDocument(item.value, issues, opts);
      const location = { file, line: lines.lineOf(item.path) };
      if (resource) result.resources.push({ resource, location });
      const label = resourceLabel(item.value, opts.defaultNamespace);
      for (const issue of issues) {
        const where = { file, line: lines.lineOf([...item.path, ...issue.path]) };
        result.errors.push(new ConfigError(issue.code, issue.detail, { location: where, resource: label, field: formatPath(issue.path) || undefined }));
      }
    }
    for (const issue of listIssues) {
      const where = { file, line: lines.lineOf(issue.path) };
      result.errors.push(new ConfigError(issue.code, issue.detail, { location: where, resource: 'List', field: formatPath(issue.path) || undefined }));
    }
  }
  return result;
}

/** Throws unless every document is valid and none is there twice. */
export function assertValid(result: ParseResult): SourcedResource[] {
  const errors = [...result.errors, ...duplicateErrors(result.resources)];
  if (errors.length > 0) throw new ConfigErrors(errors);
  return result.resources;
}

/** Validated resources of one file's text, each with where its document starts. */
export function parseSources(text: string, file: string, opts: ParseOptions = {}): SourcedResource[] {
  return assertValid(readDocuments(text, file, opts));
}

/** Validated resources of one file's text; throws ConfigErrors listing every problem. */
export function parseDocuments(text: string, file: string, opts: ParseOptions = {}): Resource[] {
  return parseSources(text, file, opts).map((s) => s.resource);
}
