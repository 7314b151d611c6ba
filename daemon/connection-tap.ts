/**
 * `ambit tap`'s L4 source in ambitd: the connections to this node's workloads
 * (over HBONE or plaintext), each as a ConnectionRecord when it closes or is
 * refused, offered to the tap hub (core/telemetry/tap-hub.ts: bounded per
 * subscriber, never slowing traffic) and served on the admin port's /tap.
 * Filters: the service, and the authorization decision.
 */
import type { Counter } from 'prom-client';
import type { ConnectionRecord } from '../core/telemetry/connection-record.js';
import { TapHub, type TapFilterBase } from '../core/telemetry/tap-hub.js';

export interface ConnectionTapFilter extends TapFilterBase {
  authz?: 'allow' | 'deny';
}

export type ConnectionTap = TapHub<ConnectionRecord, ConnectionTapFilter>;

export const connectionTap = (dropped?: Counter): ConnectionTap => new TapHub(matchesConnection, dropped);

export function matchesConnection(f: ConnectionTapFilter, _service: string, r: ConnectionRecord): boolean {
  return f.authz === undefined || f.authz === r.authz;
}

/** The admin /tap parameters beyond service: authz=allow|deny. */
export function connectionFilter(p: URLSearchParams): Omit<ConnectionTapFilter, 'service'> | string {
  const authz = p.get('authz');
  if (authz === null) return {};
  if (authz !== 'allow' && authz !== 'deny') return `authz ${JSON.stringify(authz)}: allow or deny`;
  return { authz };
}

/** Publishes a record only when someone taps `service`: with no subscriber, nothing is built. */
export function tapConnection(tap: ConnectionTap | undefined, service: string, record: () => ConnectionRecord): void {
  if (tap?.tapping(service)) tap.publish(service, record());
}
