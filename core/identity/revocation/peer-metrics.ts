/**
 * The two HBONE refusal counters, defined once for ambitd and the waypoint so
 * their names, help and labels cannot drift apart: one alert on
 * ambit_tls_peer_revoked_total covers every binary that speaks HBONE. Each
 * binary creates them in its own registry (tests run several in one process).
 */
import { Counter, type Registry } from 'prom-client';
import type { PeerRevocationMetrics } from './peer-check.js';

export interface HboneRefusalCounters extends PeerRevocationMetrics {
  readonly tlsHandshakeFailures: Counter<'direction' | 'reason'>;
  readonly peersRevoked: Counter<'direction' | 'match'>;
}

export function hboneRefusalCounters(registry: Registry): HboneRefusalCounters {
  return {
    tlsHandshakeFailures: new Counter({
      name: 'ambit_tls_handshake_failures_total',
      help: 'Failed TLS handshakes on HBONE',
      labelNames: ['direction', 'reason'] as const,
      registers: [registry],
    }),
    peersRevoked: new Counter({
      name: 'ambit_tls_peer_revoked_total',
      help: 'HBONE peers refused because their certificate serial or node is on the operator-signed revocation list',
      labelNames: ['direction', 'match'] as const,
      registers: [registry],
    }),
  };
}
