/**
 * Which compiled policies bind a workload, following Istio's scoping:
 *  - root namespace, no selector: every workload in the mesh;
 *  - root namespace, selector: matching workloads in every namespace;
 *  - other namespace, no selector: every workload in that namespace;
 *  - selector: workloads whose labels include all of matchLabels;
 *  - targetRef(s): only the waypoint of the named Service / ServiceEntry
 *    (or the named waypoint Gateway), in the policy's namespace.
 * As in Istio ambient, policies with targetRefs are never sent to ztunnel (the
 * daemon), and the waypoint enforces only the policies that target it.
 */
import type { CompiledPolicy, PolicyAction, WorkloadPolicies } from './types.js';

export interface WorkloadInfo {
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  /** The service the waypoint is serving (targetRef kind Service / ServiceEntry). */
  serviceName?: string;
  /** The waypoint's own name (targetRef kind Gateway). */
  waypointName?: string;
  /** Selecting for a waypoint rather than for the daemon's L4 enforcement. */
  atWaypoint?: boolean;
}

function labelsInclude(labels: Readonly<Record<string, string>> | undefined, wanted: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(wanted)) if (labels?.[k] !== v) return false;
  return true;
}

export function appliesTo(policy: CompiledPolicy, w: WorkloadInfo, rootNamespace: string): boolean {
  const scope = policy.scope;
  if (scope.kind === 'targets') {
    return (
      w.atWaypoint === true &&
      policy.namespace === w.namespace &&
      scope.targets.some((t) => (t.kind === 'Gateway' ? t.name === w.waypointName : t.name === w.serviceName))
    );
  }
  if (w.atWaypoint) return false;
  const inScope = policy.namespace === rootNamespace || policy.namespace === w.namespace;
  return inScope && (scope.kind !== 'selector' || labelsInclude(w.labels, scope.matchLabels));
}

const byKey = (a: CompiledPolicy, b: CompiledPolicy) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export class PolicySet {
  readonly policies: readonly CompiledPolicy[];
  readonly #byNamespace = new Map<string, CompiledPolicy[]>();

  constructor(
    policies: readonly CompiledPolicy[],
    readonly rootNamespace: string,
  ) {
    this.policies = [...policies].sort(byKey);
    for (const p of this.policies) {
      const list = this.#byNamespace.get(p.namespace);
      if (list) list.push(p);
      else this.#byNamespace.set(p.namespace, [p]);
    }
  }

  /** Call once per workload (or waypoint service) per snapshot, not per request. */
  forWorkload(w: WorkloadInfo): WorkloadPolicies {
    const root = this.#byNamespace.get(this.rootNamespace) ?? [];
    const own = w.namespace === this.rootNamespace ? [] : (this.#byNamespace.get(w.namespace) ?? []);
    const applicable = [...root, ...own].filter((p) => appliesTo(p, w, this.rootNamespace));
    const enforced = applicable.filter((p) => !p.dryRun);
    const withAction = (a: PolicyAction) => enforced.filter((p) => p.action === a);
    return {
      atWaypoint: w.atWaypoint === true,
      deny: withAction('DENY'),
      allow: withAction('ALLOW'),
      audit: withAction('AUDIT'),
      dryRun: applicable.filter((p) => p.dryRun),
      l7Policies: enforced.filter((p) => p.l7Attributes.length > 0).map((p) => p.key),
    };
  }
}
