/**
 * A single-document settings file (ambitd.yaml, ambit-waypoint.yaml) validated
 * by a schema, with the same `file:line: field: problem` messages as apply.
 */
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, ConfigErrors } from '../errors.js';
import { formatPath } from './path.js';
import { Cursor, type Schema } from './schema.js';
import { LineIndex } from './source-map.js';
import { DEFAULT_MESH_DOMAIN, DEFAULT_NAMESPACE } from './resource.js';

export function parseSettings<T>(text: string, file: string, schema: Schema<T>): T {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigErrors(
      doc.errors.map((e) => new ConfigError('ECONFIG_YAML', `invalid YAML: ${e.message.split('\n')[0]}`, { location: { file, line: e.linePos?.[0].line } })),
    );
  }
  const at = new Cursor([], { namespace: DEFAULT_NAMESPACE, domain: DEFAULT_MESH_DOMAIN });
  // An empty file means "all defaults".
  const value = schema.parse(doc.toJS() ?? {}, at);
  if (at.issues.length > 0 || value === undefined) {
    const lines = new LineIndex(doc, counter);
    throw new ConfigErrors(
      at.issues.map((i) => new ConfigError(i.code, i.detail, { location: { file, line: lines.lineOf(i.path) }, field: formatPath(i.path) || undefined })),
    );
  }
  return value;
}
