/**
 * The waypoint's Prometheus metrics, with Istio's names and labels
 * (reporter="waypoint", as Istio ambient's waypoints report), so Istio
 * dashboards and the Kiali graph read them unchanged. Own registry per
 * waypoint instance: tests run several in one process.
 */
import { signatureRefusals } from '../core/identity/trust/refusals.js';
import { Counter, Histogram, Registry } from 'prom-client';

export const REQUEST_LABELS = [
  'reporter',
  'source_principal',
  'source_workload_namespace',
  'destination_principal',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_version',
  'request_protocol',
  'response_code',
  'response_flags',
  'connection_security_policy',
] as const;

export type RequestLabels = Record<(typeof REQUEST_LABELS)[number], string>;

/** Istio's labels for its istio_tcp_* metrics: the request labels without the HTTP ones. */
export const TCP_LABELS = [
  'reporter',
  'source_principal',
  'source_workload_namespace',
  'destination_principal',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_version',
  'response_flags',
  'connection_security_policy',
] as const;

export type TcpLabels = Record<(typeof TCP_LABELS)[number], string>;

/** Istio's default buckets for istio_request_duration_milliseconds. */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export class WaypointMetrics {
  readonly registry = new Registry();
  // Signed-config refusals (core/identity/trust/refusals.ts) are process-wide; shown here too.
  readonly refusals = (this.registry.registerMetric(signatureRefusals), signatureRefusals);
  readonly requests = new Counter({
    name: 'istio_requests_total',
    help: 'HTTP requests handled by the waypoint',
    labelNames: REQUEST_LABELS,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'istio_request_duration_milliseconds',
    help: 'Time from request start to the last response byte',
    labelNames: REQUEST_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly retries = new Counter({ name: 'ambit_waypoint_retries_total', help: 'Upstream retries', labelNames: ['cluster'], registers: [this.registry] });
  readonly overflows = new Counter({
    name: 'ambit_waypoint_overflows_total',
    help: 'Requests refused by a circuit breaker',
    labelNames: ['cluster', 'reason'],
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: 'ambit_waypoint_outlier_ejections_total',
    help: 'Endpoints ejected by outlier detection',
    labelNames: ['cluster'],
    registers: [this.registry],
  });
  readonly connectionsOpened = new Counter({
    name: 'ambit_waypoint_upstream_connections_opened_total',
    help: 'Upstream connections (one HBONE stream each) opened',
    labelNames: ['cluster', 'protocol'],
    registers: [this.registry],
  });
  readonly mirrors = new Counter({
    name: 'ambit_waypoint_mirror_requests_total',
    help: "Mirrored (shadow) requests by how they ended: the mirror's status code, or why there was none",
    labelNames: ['cluster', 'outcome'],
    registers: [this.registry],
  });
  /** MeshTracer's drops (core/telemetry/tracing/bounded-export.ts). */
  readonly spansDropped = new Counter({
    name: 'ambit_trace_spans_dropped_total',
    help: 'Finished spans not delivered to a tracing provider, by why: queue_full, export_failed, export_timeout, exporter_busy, shutdown',
    labelNames: ['provider', 'reason'],
    registers: [this.registry],
  });
  readonly resendsBeforeRequest = new Counter({
    name: 'ambit_waypoint_upstream_reset_before_request_total',
    help: 'Requests sent again because their reused connection was closed before they were written',
    labelNames: ['cluster'],
    registers: [this.registry],
  });

  /** RequestAuthentication outcomes; read through `authn` by waypoint/authn/. */
  readonly jwtAuthn = new Counter({
    name: 'ambit_waypoint_jwt_authn_total',
    help: "Requests checked for a JWT, by outcome (ok, missing, denied) and Envoy's reason for denied ones",
    labelNames: ['outcome', 'reason'],
    registers: [this.registry],
  });
  readonly jwksFetches = new Counter({
    name: 'ambit_waypoint_jwks_fetches_total',
    help: 'Fetches of remote JWKS (jwksUri or OpenID discovery) by issuer and result (ok, error)',
    labelNames: ['issuer', 'result'],
    registers: [this.registry],
  });
  readonly authn = { outcomes: this.jwtAuthn, fetches: this.jwksFetches };

  readonly tcpOpened = new Counter({
    name: 'istio_tcp_connections_opened_total',
    help: 'TCP connections the waypoint proxied',
    labelNames: TCP_LABELS,
    registers: [this.registry],
  });
  readonly tcpClosed = new Counter({
    name: 'istio_tcp_connections_closed_total',
    help: 'TCP connections the waypoint proxied and closed',
    labelNames: TCP_LABELS,
    registers: [this.registry],
  });
  readonly tcpReceived = new Counter({
    name: 'istio_tcp_received_bytes_total',
    help: 'Bytes from the client over proxied TCP connections',
    labelNames: TCP_LABELS,
    registers: [this.registry],
  });
  readonly tcpSent = new Counter({
    name: 'istio_tcp_sent_bytes_total',
    help: 'Bytes to the client over proxied TCP connections',
    labelNames: TCP_LABELS,
    registers: [this.registry],
  });

  record(labels: RequestLabels, durationMs: number): void {
    this.requests.inc(labels);
    this.duration.observe(labels, durationMs);
  }
}
