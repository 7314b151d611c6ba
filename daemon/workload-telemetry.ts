/**
 * The Telemetry API for ambitd's own connections: the metric overrides of its
 * istio_tcp_* series and its access-log lines, resolved for the workload whose
 * side of the traffic the daemon reports, as a sidecar would: the source
 * workload for outbound (reporter="source"), the destination workload for
 * inbound, tunnelled or plaintext (reporter="destination"). Compiled once per
 * workload per mesh snapshot, so a Telemetry change reaches the next
 * connection without a restart; a connection keeps what it opened with.
 */
import type { MeshState } from '../core/mesh/index.js';
import { CompiledTelemetry } from '../core/telemetry/compiled.js';
import { TCP_LABELS } from '../core/telemetry/labels.js';
import { resolveTelemetry } from '../core/telemetry/resolve.js';
import { TCP_METRICS } from '../core/telemetry/tcp-series.js';

/** A workload as Telemetry selectors see it: an enrolled endpoint (EndpointRecord fits). */
export interface TelemetrySubject {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

const RECORDED = { names: TCP_METRICS, labels: TCP_LABELS };
const bySnapshot = new WeakMap<MeshState, Map<string, CompiledTelemetry>>();

/** The telemetry `w` gets under the snapshot `state` was built from. */
export function workloadTelemetry(state: MeshState, w: TelemetrySubject): CompiledTelemetry {
  let cache = bySnapshot.get(state);
  if (!cache) bySnapshot.set(state, (cache = new Map<string, CompiledTelemetry>()));
  const key = `${w.namespace}\n${JSON.stringify(Object.entries(w.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
  let t = cache.get(key);
  if (!t) {
    const inputs = { telemetries: state.typed.of('Telemetry'), meshConfigs: state.typed.of('MeshConfig'), rootNamespace: state.policies.rootNamespace };
    cache.set(key, (t = new CompiledTelemetry(resolveTelemetry(inputs, { namespace: w.namespace, labels: w.labels }), RECORDED)));
  }
  return t;
}

/** What cannot apply as written for this node's workloads, for a warning when a snapshot changes it. */
export function nodeTelemetryProblems(state: MeshState): string[] {
  return [...new Set(state.localEndpoints().flatMap((ep) => workloadTelemetry(state, ep).problems))];
}
