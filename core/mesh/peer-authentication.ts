/**
 * Which mTLS mode a workload's port is in, by Istio's PeerAuthentication
 * rules: a policy with a selector matching the workload beats its namespace's
 * policy (no selector), which beats the mesh-wide one (root namespace, no
 * selector); port-level settings beat the policy's own mode; UNSET inherits
 * from the next level; with nothing set the mode is PERMISSIVE.
 */
import type { MtlsMode, TypedResource } from '../config/index.js';

export type EffectiveMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface WorkloadRef {
  namespace: string;
  labels: Record<string, string>;
}

type PeerAuthentication = TypedResource<'PeerAuthentication'>;

export function mtlsMode(pa: readonly PeerAuthentication[], workload: WorkloadRef, port: number, rootNamespace = 'istio-system'): EffectiveMode {
  const selects = (p: PeerAuthentication) => Object.entries(p.spec.selector?.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v);
  // Oldest first, as Istio breaks ties between policies of the same level.
  const byAge = (a: PeerAuthentication, b: PeerAuthentication) =>
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);
  const levels = [
    pa.filter((p) => p.metadata.namespace === workload.namespace && p.spec.selector && selects(p)).sort(byAge),
    pa.filter((p) => p.metadata.namespace === workload.namespace && !p.spec.selector).sort(byAge),
    pa.filter((p) => p.metadata.namespace === rootNamespace && !p.spec.selector).sort(byAge),
  ];
  for (const level of levels) {
    const policy = level[0];
    if (!policy) continue;
    const mode = settled(policy.spec.portLevelMtls?.[String(port)]?.mode) ?? settled(policy.spec.mtls?.mode);
    if (mode) return mode;
  }
  return 'PERMISSIVE';
}

function settled(mode: MtlsMode | undefined): EffectiveMode | undefined {
  return mode === undefined || mode === 'UNSET' ? undefined : mode;
}
