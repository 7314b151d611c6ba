/**
 * How a policy binds: its scope (mesh, namespace, selector or waypoint
 * targets; select.ts applies it to workloads) and whether it is a dry run.
 */
import type { PolicyTarget as PolicyTargetFields, PolicyTargetReference, Resource } from '../config/index.js';
import { AuthzError } from './errors.js';
import type { PolicyScope, PolicyTarget } from './types.js';

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/** Istio reads the annotation with Go's strconv.ParseBool. */
export function dryRunOf(resource: Pick<Resource, 'metadata'>): boolean {
  const value = resource.metadata.annotations?.[DRY_RUN_ANNOTATION];
  if (value === undefined) return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new AuthzError('EAUTHZ_DRY_RUN_ANNOTATION', `annotation ${DRY_RUN_ANNOTATION} must be "true" or "false", not ${JSON.stringify(value)}`, { value });
}

const TARGET_GROUPS: Record<PolicyTarget['kind'], readonly (string | undefined)[]> = {
  Service: [undefined, '', 'core'],
  ServiceEntry: ['networking.istio.io'],
  Gateway: ['gateway.networking.k8s.io'],
};

/** Waypoint bindings; a reference ambit cannot honour becomes a warning and binds nothing. */
function targetsOf(refs: readonly PolicyTargetReference[], namespace: string, warnings: string[]): PolicyTarget[] {
  const targets: PolicyTarget[] = [];
  for (const ref of refs) {
    const kind = ref.kind as PolicyTarget['kind'];
    if (!Object.hasOwn(TARGET_GROUPS, kind) || !TARGET_GROUPS[kind].includes(ref.group)) {
      warnings.push(`targetRef ${ref.group ?? ''}/${ref.kind} ${ref.name} is not supported (Service, ServiceEntry, Gateway): it binds nothing`);
    } else if (ref.namespace !== undefined && ref.namespace !== namespace) {
      warnings.push(`targetRef ${ref.kind} ${ref.namespace}/${ref.name} is in another namespace: it binds nothing`);
    } else targets.push({ kind, name: ref.name });
  }
  return targets;
}

/** Shared with RequestAuthentication, which binds to waypoints the same way. */
export function scopeOf(spec: PolicyTargetFields, namespace: string, root: string, warnings: string[]): PolicyScope {
  const refs = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (refs.length > 0) return { kind: 'targets', targets: targetsOf(refs, namespace, warnings) };
  const labels = spec.selector?.matchLabels;
  if (labels && Object.keys(labels).length > 0) return { kind: 'selector', matchLabels: labels };
  return namespace === root ? { kind: 'mesh' } : { kind: 'namespace' };
}

/**
 * Whether a waypoint resource (RequestAuthentication, RateLimit) binds the
 * served service `svc`: as AuthorizationPolicy does at a waypoint, through
 * targetRef(s) naming the Service or ServiceEntry in its own namespace. A
 * reference that binds nothing is reported through `warn`.
 */
export function targetsService(
  r: { metadata: { namespace: string }; spec: PolicyTargetFields },
  svc: { namespace: string; name: string },
  warn: (warning: string) => void,
): boolean {
  if (r.metadata.namespace !== svc.namespace) return false;
  const warnings: string[] = [];
  // The root namespace only matters for selector scopes, which never bind at a waypoint.
  const scope = scopeOf(r.spec, r.metadata.namespace, '', warnings);
  warnings.forEach(warn);
  return scope.kind === 'targets' && scope.targets.some((t) => t.kind !== 'Gateway' && t.name === svc.name);
}
