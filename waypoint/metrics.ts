/**
 * The waypoint's Prometheus metrics, with Istio's names and its full label
 * set (core/telemetry/labels.ts; reporter="waypoint", as Istio ambient's
 * waypoints report), so Istio dashboards and the Kiali graph read them
 * unchanged. Own registry per waypoint instance: tests run several in one
 * process.
 */
import { sequenceWriteFailures } from '../core/identity/manifest/sequence-file.js';
import { hboneRefusalCounters } from '../core/identity/revocation/peer-metrics.js';
import { signatureRefusals } from '../core/identity/trust/refusals.js';
import { Counter, Histogram, Registry } from 'prom-client';
import { REQUEST_LABELS, TCP_LABELS, type RequestLabelName, type RequestLabels } from '../core/telemetry/labels.js';
import type { TelemetryAttributes } from '../core/telemetry/expression.js';
import { applyLabelOperations, type MetricOverrides } from '../core/telemetry/metric-overrides.js';
import type { IstioMetricName } from '../core/telemetry/settings.js';
import type { TcpCounters } from '../core/telemetry/tcp-series.js';

export type { MetricOverrides } from '../core/telemetry/metric-overrides.js';

/** Istio's default buckets for istio_request_duration_milliseconds. */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** Istio's buckets for istio_request_bytes and istio_response_bytes: powers of ten, 1 B to 10 MB. */
const BYTES_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

/** One of Istio's per-request histograms, on the request labels. */
function requestHistogram(registry: Registry, name: string, help: string, buckets: number[]): Histogram<RequestLabelName> {
  return new Histogram({ name, help, labelNames: REQUEST_LABELS, buckets, registers: [registry] });
}

export class WaypointMetrics {
  readonly registry = new Registry();
  // Signed-config refusals (core/identity/trust/refusals.ts) are process-wide; shown here too.
  readonly refusals = (this.registry.registerMetric(signatureRefusals), signatureRefusals);
  readonly sequenceWriteFailures = (this.registry.registerMetric(sequenceWriteFailures), sequenceWriteFailures);
  // HBONE refusals, the counters ambitd has (one definition, so one alert covers both binaries).
  readonly #hboneRefusals = hboneRefusalCounters(this.registry);
  readonly tlsHandshakeFailures = this.#hboneRefusals.tlsHandshakeFailures;
  readonly peersRevoked = this.#hboneRefusals.peersRevoked;
  readonly requests = new Counter({
    name: 'istio_requests_total',
    help: 'HTTP requests handled by the waypoint',
    labelNames: REQUEST_LABELS,
    registers: [this.registry],
  });
  readonly duration = requestHistogram(
    this.registry,
    'istio_request_duration_milliseconds',
    'Time from request start to the last response byte',
    DURATION_BUCKETS,
  );
  readonly requestBytes = requestHistogram(this.registry, 'istio_request_bytes', 'HTTP request body sizes', BYTES_BUCKETS);
  readonly responseBytes = requestHistogram(this.registry, 'istio_response_bytes', 'HTTP response body sizes', BYTES_BUCKETS);
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
  /** `ambit tap` records a slow subscriber missed (waypoint/tap.ts). */
  readonly tapDropped = new Counter({
    name: 'ambit_waypoint_tap_dropped_total',
    help: 'Finished requests not sent to an ambit tap subscriber because it had fallen too far behind',
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
  readonly oidcLogins = new Counter({
    name: 'ambit_waypoint_oidc_logins_total',
    help: 'OidcLogin browser sessions by service and outcome (required, started, ok, failed, refreshed, refresh_failed, logout, bad_cookie)',
    labelNames: ['service', 'outcome'],
    registers: [this.registry],
  });
  /** What waypoint/oidc/ counts (its issuers' key fetches are in jwksFetches, through the shared JwksCache). */
  readonly oidc = { logins: this.oidcLogins };

  readonly rateLimited = new Counter({
    name: 'ambit_waypoint_rate_limited_total',
    help: 'Requests answered 429 by a RateLimit rule (namespace/resource/rule), by mode',
    labelNames: ['rule', 'mode'],
    registers: [this.registry],
  });
  readonly rateLimitStoreErrors = new Counter({
    name: 'ambit_waypoint_rate_limit_store_errors_total',
    help: 'Global RateLimit checks the store did not answer in time, by rule and the failureMode applied',
    labelNames: ['rule', 'failure_mode'],
    registers: [this.registry],
  });
  readonly rateLimits = { limited: this.rateLimited, storeErrors: this.rateLimitStoreErrors };

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

  /** The four TCP counters, for core/telemetry/tcp-series.ts's countTcpOpened / countTcpClosed. */
  readonly tcp: TcpCounters = { opened: this.tcpOpened, closed: this.tcpClosed, sent: this.tcpSent, received: this.tcpReceived };

  /**
   * One request, once it has ended: the same labels on its count, duration and
   * body sizes, less what the Telemetry API's overrides disable or relabel
   * (`attrs` is read only when an override needs it).
   */
  record(
    labels: RequestLabels,
    sample: { durationMs: number; requestBytes: number; responseBytes: number },
    overrides?: MetricOverrides,
    attrs?: () => TelemetryAttributes,
  ): void {
    const emit = (name: IstioMetricName, write: (l: RequestLabels) => void): void => {
      const m = overrides?.metric(name);
      if (!m) return write(labels);
      if (m.disabled) return;
      write(m.operations.length && attrs ? applyLabelOperations(labels, m, attrs()) : labels);
    };
    emit('REQUEST_COUNT', (l) => this.requests.inc(l));
    emit('REQUEST_DURATION', (l) => this.duration.observe(l, sample.durationMs));
    emit('REQUEST_SIZE', (l) => this.requestBytes.observe(l, sample.requestBytes));
    emit('RESPONSE_SIZE', (l) => this.responseBytes.observe(l, sample.responseBytes));
  }
}
