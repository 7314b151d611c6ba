/**
 * Multi-document YAML (or JSON) text to validated resources, with every
 * problem in the text reported at once, each with its file and line.
 */
import { Composer, LineCounter, Parser, isScalar, type Document, type YAMLError } from 'yaml';
import { ConfigError, ConfigErrors } from '../errors.js';
import { resourceLabel, validateDocument } from './document.js';
import { duplicateErrors, type SourcedResource } from './duplicates.js';
import { MAX_APPLY_DOCUMENTS, tooManyDocuments } from './input-limits.js';
import { documentItems } from './list.js';
import { formatPath } from './path.js';
import type { Resource } from './resource.js';
import type { Issue } from './schema.js';
import { LineIndex } from './source-map.js';

export interface ParseOptions {
  /** Namespace of documents whose metadata has none (default "default"). */
  defaultNamespace?: string;
  /** Documents one text may hold (default MAX_APPLY_DOCUMENTS); past it the text is refused without being validated. */
  maxDocuments?: number;
}

export interface ParseResult {
  resources: SourcedResource[];
  errors: ConfigError[];
  /** Documents read (empty ones not counted), valid or not: what the apply limit counts. */
  documents: number;
}

function yamlError(err: YAMLError, file: string, counter: LineCounter): ConfigError {
  const line = err.linePos?.[0].line ?? counter.linePos(err.pos[0]).line;
  return new ConfigError('ECONFIG_YAML', `invalid YAML: ${err.message.split('\n')[0]!}`, { location: { file, line } });
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

/**
 * The text's documents, composed one at a time so that a text over the
 * limit is refused after limit + 1 of them, not after all.
 */
function composeDocuments(text: string, counter: LineCounter, limit: number): Document[] | number {
  const docs: Document[] = [];
  let documents = 0;
  for (const doc of new Composer().compose(new Parser(counter.addNewLine).parse(text))) {
    docs.push(doc);
    if (doc.errors.length === 0 && isEmpty(doc)) continue;
    if (++documents > limit) return documents;
  }
  return docs;
}

/** Parses without throwing, so a caller reading several files can report them all. */
export function readDocuments(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  const counter = new LineCounter();
  const limit = opts.maxDocuments ?? MAX_APPLY_DOCUMENTS;
  const docs = composeDocuments(text, counter, limit);
  if (typeof docs === 'number') {
    return { resources: [], errors: [tooManyDocuments([{ file, documents: docs }], limit, true)], documents: docs };
  }
  const result: ParseResult = { resources: [], errors: [], documents: 0 };
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      result.documents++;
      for (const e of doc.errors) result.errors.push(yamlError(e, file, counter));
      continue;
    }
    if (isEmpty(doc)) continue;
    result.documents++;
    const raw = toJS(doc, file);
    if (raw instanceof ConfigError) {
      result.errors.push(raw);
      continue;
    }
    const lines = new LineIndex(doc, counter);
    const listIssues: Issue[] = [];
    const items = documentItems(raw, listIssues);
    // A List's items are documents too: one List must not carry past the limit what separate documents cannot.
    result.documents += Math.max(items.length, 1) - 1;
    if (result.documents > limit) {
      return { resources: [], errors: [tooManyDocuments([{ file, documents: result.documents }], limit, true)], documents: result.documents };
    }
    for (const item of items) {
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
