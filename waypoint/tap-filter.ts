/**
 * What `ambit tap` can ask the waypoint for: requests by path prefix, method
 * and status (code or class), over the access-log record (access-log.ts, the
 * one record of a request); the hub (core/telemetry/tap-hub.ts) does the rest.
 */
import type { Counter } from 'prom-client';
import { TapHub, type TapFilterBase } from '../core/telemetry/tap-hub.js';
import type { AccessLogEntry } from './access-log.js';

export interface RequestTapFilter extends TapFilterBase {
  /** Path prefix (as linkerd tap's --path). */
  path?: string;
  method?: string;
  /** An exact code (404) or a class (5xx). */
  status?: string;
}

export type RequestTap = TapHub<AccessLogEntry, RequestTapFilter>;

export const requestTap = (dropped?: Counter): RequestTap => new TapHub(matchesRequest, dropped);

export function matchesRequest(f: RequestTapFilter, service: string, e: AccessLogEntry): boolean {
  if (f.service !== undefined && f.service !== service) return false;
  if (f.method !== undefined && f.method !== e.method) return false;
  if (f.path !== undefined && !e.path.startsWith(f.path)) return false;
  if (f.status !== undefined) {
    const code = String(e.response_code);
    const klass = /^([1-5])xx$/i.exec(f.status);
    if (klass ? code.length !== 3 || code[0] !== klass[1] : code !== f.status) return false;
  }
  return true;
}
