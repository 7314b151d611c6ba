/**
 * Answers the waypoint gives itself, with Envoy's status codes, bodies and
 * response flags, so clients and dashboards built for Istio read them the
 * same way.
 */
import { OVERFLOW_HEADER, type OverflowReason } from './routing/index.js';

export interface LocalReply {
  status: number;
  body: string;
  /** Envoy's response flag, for the access log and metrics. */
  flag: string;
  headers?: Record<string, string>;
}

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export const replies = {
  denied: (): LocalReply => ({ status: 403, body: 'RBAC: access denied', flag: 'RBAC' }),
  notFound: (): LocalReply => ({ status: 404, body: '', flag: 'NR' }),
  /** The route names a subset no DestinationRule defines: Envoy has no such cluster. */
  noCluster: (): LocalReply => ({ status: 503, body: '', flag: 'NC' }),
  noHealthyUpstream: (): LocalReply => ({ status: 503, body: 'no healthy upstream', flag: 'UH' }),
  overflow: (reason: OverflowReason): LocalReply => ({
    status: 503, body: `${RESET}overflow`, flag: 'UO', headers: { [OVERFLOW_HEADER]: reason, 'x-envoy-overloaded': 'true' },
  }),
  connectFailure: (): LocalReply => ({ status: 503, body: `${RESET}connection failure`, flag: 'UF' }),
  reset: (): LocalReply => ({ status: 503, body: `${RESET}connection termination`, flag: 'UC' }),
  protocolError: (): LocalReply => ({ status: 502, body: 'upstream sent an invalid HTTP response', flag: 'UPE' }),
  timeout: (): LocalReply => ({ status: 504, body: 'upstream request timeout', flag: 'UT' }),
  fault: (status: number): LocalReply => ({ status, body: 'fault filter abort', flag: 'FI' }),
  direct: (status: number, body: string): LocalReply => ({ status, body, flag: '-' }),
  redirect: (status: number, location: string): LocalReply => ({ status, body: '', flag: '-', headers: { location } }),
  /** Only WebSocket upgrades are proxied, as Istio configures Envoy; Envoy refuses others with 403 (upgrade_failed). */
  upgradeRejected: (): LocalReply => ({ status: 403, body: 'upgrade not allowed', flag: '-' }),
} as const;
