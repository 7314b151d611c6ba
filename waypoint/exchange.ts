/**
 * One HTTP request through the waypoint as telemetry sees it. Each stage
 * notes what it learned (the authz policy that decided, the route, the
 * endpoint, how many tries, the status and Envoy response flag the client
 * got), and the whole is recorded once, when the client's side closes, as
 * one access-log line and one metrics sample with the same labels, however
 * the request ended: so the two never disagree and none is counted twice.
 */
import { randomUUID } from 'node:crypto';
import type { AccessLog, AccessLogEntry } from './access-log.js';
import type { RequestTap } from './tap-filter.js';
import { requestLabels } from '../core/telemetry/labels.js';
import type { Caller } from './caller.js';
import type { Upstream, WaypointConfig } from './config.js';
import type { ServiceView } from './mesh-view.js';
import type { WaypointMetrics } from './metrics.js';
import type { DownstreamRequest } from './request-body.js';
import type { ForwardDecision } from '../core/routing/index.js';
import type { ServerTrace } from '../core/telemetry/tracing/tracer.js';
import type { ServiceTelemetry } from './telemetry.js';
import type { TelemetryAttributes } from '../core/telemetry/expression.js';

export interface Exchange {
  started: number;
  requestId: string;
  /** Envoy's response flag; '-' when nothing went wrong. */
  flag: string;
  /** 0 until the client is answered. */
  status: number;
  attempts: number;
  upstream: Upstream | undefined;
  decision: ForwardDecision | undefined;
  authzPolicy: string | undefined;
  /** The client left before its answer was complete (DC). */
  clientGone: boolean;
  /** Request body bytes read from the client so far (request-body.ts counts them). */
  requestBytes: () => number;
  /** Response body bytes written to the client (deliver.ts, replies.ts). */
  responseBytes: number;
  /** The endpoint's grpc-status, for a gRPC request's metrics. */
  grpcStatus: string | undefined;
  /** The request's SERVER span (request-trace.ts); undefined with tracing off. */
  trace: ServerTrace | undefined;
  /** The served service's Telemetry settings in the snapshot the request started on. */
  telemetry: ServiceTelemetry | undefined;
  /** Set-Cookie values the waypoint adds to whatever answers the client (an OIDC session renewed or cleared). */
  setCookies: string[];
}

/** The exchange for `req`, which gets Envoy's x-request-id if it came without one: the endpoint sees the id the log has. */
export function openExchange(req: DownstreamRequest, telemetry: ServiceTelemetry | undefined): Exchange {
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const requestId = String((headers['x-request-id'] ??= randomUUID()));
  return {
    started: Date.now(),
    requestId,
    flag: '-',
    status: 0,
    attempts: 0,
    upstream: undefined,
    decision: undefined,
    authzPolicy: undefined,
    clientGone: false,
    requestBytes: () => 0,
    responseBytes: 0,
    grpcStatus: undefined,
    trace: undefined,
    telemetry,
    setCookies: [],
  };
}

export function recordExchange(
  x: Exchange,
  req: DownstreamRequest,
  caller: Caller,
  service: ServiceView,
  sinks: { metrics: WaypointMetrics; accessLog: AccessLog; tap?: RequestTap; config: () => WaypointConfig },
): void {
  const durationMs = Date.now() - x.started;
  const status = x.clientGone && x.status === 0 ? 0 : x.status;
  const flag = x.clientGone ? 'DC' : x.flag;
  const up = x.upstream;
  const destService = x.decision?.destination.host ?? service.fqdn;
  const grpc = String(req.headers['content-type'] ?? '').startsWith('application/grpc');
  const labels = requestLabels(sinks.config().trafficFacts(caller, destService, up), {
    protocol: grpc ? 'grpc' : 'http',
    responseCode: status,
    responseFlags: flag,
    ...(x.grpcStatus !== undefined ? { grpcStatus: x.grpcStatus } : {}),
  });
  const path = String(req.headers[':path'] ?? req.url ?? '');
  const authority = String(req.headers[':authority'] ?? req.headers.host ?? '');
  // Built at most once, and only when a metric override or an access-log filter reads it.
  let read: TelemetryAttributes | undefined;
  const attrs = () => (read ??= { responseCode: status, method: req.method, host: authority, path, headers: singleValued(req.headers), mtls: true });
  sinks.metrics.record(labels, { durationMs, requestBytes: x.requestBytes(), responseBytes: x.responseBytes }, x.telemetry, attrs);
  const logged = x.telemetry?.logs(attrs) !== false;
  // ambit tap sees every request, logged or not; the record is built only when someone reads it.
  const tapped = sinks.tap?.tapping(service.fqdn) === true;
  if (!logged && !tapped) return;
  const entry: AccessLogEntry = {
    start_time: new Date(x.started).toISOString(),
    method: req.method ?? '',
    path,
    protocol: `HTTP/${req.httpVersion}`,
    authority,
    response_code: status,
    response_flags: flag,
    duration_ms: durationMs,
    attempts: x.attempts,
    upstream_host: up?.authority,
    upstream_cluster: x.decision?.policy?.cluster,
    route_name: x.decision?.routeName,
    source_principal: caller.principal,
    source_address: caller.address,
    destination_service: destService,
    request_id: x.requestId,
    authz_policy: x.authzPolicy,
    trace_id: x.trace?.traceId,
    span_id: x.trace?.spanId,
  };
  if (logged) sinks.accessLog(entry);
  if (tapped) sinks.tap!.publish(service.fqdn, entry);
}

/** Header values as an access-log filter reads them: a repeated header joined as Envoy joins it. */
function singleValued(headers: DownstreamRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}
