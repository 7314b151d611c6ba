/** Builders for config tests: documents whose line numbers are easy to count. */
import { ConfigErrors, type ConfigError } from '../../../core/errors.js';
import { KINDS, parseDocuments, type ConfigKind, type ParseOptions } from '../../../core/config/index.js';

export const FILE = 'test.yaml';

/**
 * A document of `kind` named `name` whose spec starts on line 6:
 * 1 apiVersion, 2 kind, 3 metadata, 4 name, 5 spec.
 */
export function doc(kind: ConfigKind, name: string, spec: string[], apiVersion = `${KINDS[kind].group}/${KINDS[kind].versions[0]}`): string {
  return [`apiVersion: ${apiVersion}`, `kind: ${kind}`, 'metadata:', `  name: ${name}`, 'spec:', ...spec.map((l) => `  ${l}`)].join('\n');
}

/** The errors parsing `text` throws; fails the test by throwing if there are none. */
export function problems(text: string, opts: ParseOptions = {}): ConfigError[] {
  try {
    parseDocuments(text, FILE, opts);
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors;
    throw err;
  }
  throw new Error('expected the text to be rejected');
}
