/** `ambit tap`'s lines for people, in linkerd tap's spirit: when, who, what, how it ended, where it went. */
import type { AccessLogEntry } from '../../core/telemetry/access-log-entry.js';
import type { ConnectionRecord } from '../../core/telemetry/connection-record.js';

const principal = (p: string | undefined) => (p ? p.replace(/^spiffe:\/\/[^/]+\//, '') : 'plaintext');

export function renderRequestLine(r: AccessLogEntry): string {
  return [
    r.start_time,
    `src=${principal(r.source_principal)}`,
    `:method=${r.method}`,
    `:authority=${r.authority}`,
    `:path=${r.path}`,
    `:status=${r.response_code}`,
    `latency=${r.duration_ms}ms`,
    `route=${r.route_name ?? '-'}`,
    `upstream=${r.upstream_cluster ?? '-'}`,
    `flags=${r.response_flags}`,
  ].join(' ');
}

export function renderConnectionLine(c: ConnectionRecord): string {
  return [
    c.start_time,
    `src=${principal(c.source_principal)}`,
    `peer=${c.source_address}`,
    `dst=${c.destination}`,
    `authz=${c.authz}${c.authz_policy ? `(${c.authz_policy})` : ''}`,
    ...(c.authz === 'deny'
      ? [`reason=${JSON.stringify(c.authz_reason ?? '')}`]
      : [`bytes_in=${c.bytes_received}`, `bytes_out=${c.bytes_sent}`, `duration=${c.duration_ms}ms`]),
    `tls=${c.security}`,
    ...(c.error ? [`error=${c.error}`] : []),
  ].join(' ');
}
