/**
 * The daemon's side of L4 authorization: the decision itself is
 * core/mesh/authorize.ts (also what `ambit explain` calls, so it asks the very
 * function the proxies ask); here a refusal is counted and logged the same
 * way on every path that makes one (inbound HBONE, the same-node shortcut,
 * inbound plaintext).
 */
import type { Logger } from 'pino';
import type { Decision } from '../core/authz/index.js';
import type { DaemonMetrics } from './metrics.js';

export { authorizeL4, type L4Source } from '../core/mesh/authorize.js';

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
