/**
 * L4 authorization of a connection to a workload on this node, shared by the
 * inbound HBONE path, the same-node shortcut of the outbound path (traffic
 * between two services on one host is authorized exactly like remote traffic)
 * and inbound plaintext (no principal: only ipBlocks, ports and the like can
 * allow it). A refusal is counted and logged the same way on every path.
 */
import type { Logger } from 'pino';
import { evaluate, type Decision, type WorkloadPolicies } from '../core/authz/index.js';
import type { DaemonMetrics } from './metrics.js';
import type { EndpointRecord } from '../core/store/types.js';
import { formatAuthority } from '../core/hbone/authority.js';
import type { MeshState } from '../core/mesh/index.js';

export interface L4Source {
  /** Verified SPIFFE ID (spiffe://td/ns/x/sa/y), undefined for plaintext. */
  identity: string | undefined;
  ip: string;
}

// Policies per workload are selected once per config snapshot, not per connection.
const cache = new WeakMap<MeshState, Map<string, WorkloadPolicies>>();

function policiesFor(state: MeshState, ep: EndpointRecord): WorkloadPolicies {
  let perState = cache.get(state);
  if (!perState) cache.set(state, (perState = new Map<string, WorkloadPolicies>()));
  const key = formatAuthority(ep.address, ep.port);
  let wp = perState.get(key);
  if (!wp) perState.set(key, (wp = state.policies.forWorkload({ namespace: ep.namespace, labels: ep.labels, serviceName: ep.service })));
  return wp;
}

export function authorizeL4(state: MeshState, ep: EndpointRecord, source: L4Source, destinationIp: string): Decision {
  return evaluate(policiesFor(state, ep), {
    ...(source.identity ? { sourcePrincipal: source.identity } : {}),
    sourceIp: source.ip,
    destinationIp,
    destinationPort: ep.port,
  });
}

/** Why a connection was refused: an AuthorizationPolicy, or PeerAuthentication STRICT for plaintext. */
export interface Denial {
  /** The destination service's host name. */
  service: string;
  /** The caller's verified identity, undefined for plaintext. */
  source: string | undefined;
  decision?: Decision;
  reason: 'policy' | 'mtls_strict';
}

/** Counts a refusal in ambit_authz_denials_total and logs it with `fields` (which peer, which endpoint). */
export function reportDenial(metrics: DaemonMetrics, log: Logger, denial: Denial, fields: Record<string, unknown>): void {
  metrics.authzDenials.inc({
    destination_service: denial.service,
    source_principal: denial.source ?? '',
    policy: denial.decision?.policy ?? '',
    reason: denial.reason,
  });
  log.warn(
    { src: denial.source ?? 'plaintext', ...fields, policy: denial.decision?.policy, reason: denial.decision?.reason },
    denial.reason === 'policy' ? 'connection denied by AuthorizationPolicy' : 'plaintext connection refused: PeerAuthentication STRICT',
  );
}
