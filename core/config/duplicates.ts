/** The same kind/namespace/name twice in one apply is a mistake: report both places. */
import { ConfigError, type SourceLocation } from '../errors.js';
import { refKey, type Resource } from './resource.js';

export interface SourcedResource {
  resource: Resource;
  /** Where the document starts. */
  location: SourceLocation;
}

function where(l: SourceLocation): string {
  return l.line ? `${l.file}:${l.line}` : l.file;
}

export function duplicateErrors(sourced: readonly SourcedResource[]): ConfigError[] {
  const first = new Map<string, SourceLocation>();
  const errors: ConfigError[] = [];
  for (const { resource, location } of sourced) {
    const key = refKey(resource);
    const earlier = first.get(key);
    if (!earlier) first.set(key, location);
    else {
      const label = `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}`;
      errors.push(new ConfigError('ECONFIG_DUPLICATE', `defined twice: at ${where(earlier)} and at ${where(location)}`, { location, resource: label }));
    }
  }
  return errors;
}
