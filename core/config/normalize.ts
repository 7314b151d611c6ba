/**
 * The typed form consumers (daemon, waypoint) work with: the stored document
 * run through its kind's schema, so short hosts are fully qualified in the
 * resource's namespace and mesh domain, durations are milliseconds, and
 * defaults Istio implies (route weights, fault percentages) are filled in.
 */
import { ConfigError, ConfigErrors } from '../errors.js';
import { typedSpec } from './document.js';
import { kindDefinition, type ConfigKind, type SpecByKind } from './kinds/index.js';
import { formatPath } from './path.js';
import { DEFAULT_MESH_DOMAIN, type Resource } from './resource.js';
import type { Issue } from './schema.js';

export type TypedResource<K extends ConfigKind = ConfigKind> = {
  [P in K]: Omit<Resource<SpecByKind[P]>, 'kind'> & { kind: P };
}[K];

export interface NormalizeOptions {
  /** Mesh domain short names resolve into (default cluster.local). */
  domain?: string;
}

export function normalize(resource: Resource, opts: NormalizeOptions = {}): TypedResource {
  const label = `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}`;
  const def = kindDefinition(resource.kind);
  if (!def) throw new ConfigErrors([new ConfigError('ECONFIG_KIND', `kind ${resource.kind} is not supported by ambit`, { resource: label })]);
  const issues: Issue[] = [];
  const ctx = { namespace: resource.metadata.namespace, domain: opts.domain ?? DEFAULT_MESH_DOMAIN };
  const spec = typedSpec(def, resource.spec, ctx, issues);
  if (spec === undefined) {
    throw new ConfigErrors(issues.map((i) => new ConfigError(i.code, i.detail, { resource: label, field: formatPath(i.path) })));
  }
  return { ...resource, kind: def.kind, spec } as TypedResource;
}
