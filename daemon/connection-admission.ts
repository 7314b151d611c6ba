/**
 * Whether one more inbound connection from a source may reach a local
 * workload under its service's ConnectionLimit, asked the same way by every
 * inbound path (HBONE and plaintext), and a refusal counted and logged the
 * same way on each. The counting itself is connection-limiter.ts.
 */
import type { Logger } from 'pino';
import { formatAuthority } from '../core/hbone/authority.js';
import type { MeshState } from '../core/mesh/index.js';
import type { EndpointRecord } from '../core/store/types.js';
import type { ConnectionLease, ConnectionLimiter } from './connection-limiter.js';
import type { DaemonMetrics } from './metrics.js';

export interface AdmissionDeps {
  limiter: ConnectionLimiter;
  metrics: DaemonMetrics;
  log: Logger;
}

/** Who is connecting: a verified identity (HBONE peer, a local enrolled user) is the source; else the client's address. */
export interface AdmissionSource {
  identity: string | undefined;
  ip: string;
}

/** Refused: why (one line naming the source, the workload and the limit) and the ConnectionLimit that refused. */
export type Admission = { admitted: true; release: ConnectionLease } | { admitted: false; reason: string; policy: string };

const NO_LIMIT: ConnectionLease = () => undefined;

export function admitConnection(
  deps: AdmissionDeps,
  state: MeshState,
  ep: EndpointRecord,
  source: AdmissionSource,
  /** hbone: a tunnel from a peer; plaintext; local: the same-node shortcut (a local workload, no tunnel). */
  transport: 'hbone' | 'plaintext' | 'local',
  fields: Record<string, unknown>,
): Admission {
  const service = state.serviceOfEndpoint(ep);
  const limit = state.connectionLimits.of(service);
  if (!limit) return { admitted: true, release: NO_LIMIT };
  const workload = formatAuthority(ep.address, ep.port);
  const release = deps.limiter.acquire(workload, source.identity ?? `address ${source.ip}`, limit.maxPerSource);
  if (release) return { admitted: true, release };
  const who = source.identity ?? source.ip;
  const reason = `${who} already holds ${limit.maxPerSource} connections to ${workload} (ConnectionLimit ${limit.resource})`;
  deps.metrics.connectionLimitRefusals.inc({
    destination_service: service.host,
    source_principal: source.identity ?? '',
    policy: limit.resource,
    transport,
    reason: 'per_source',
  });
  deps.log.warn(
    { src: source.identity ?? 'plaintext', ...fields, transport, policy: limit.resource, limit: limit.maxPerSource },
    'connection refused: its source holds as many as the ConnectionLimit allows',
  );
  return { admitted: false, reason, policy: limit.resource };
}
