/**
 * The labels one TCP connection records each of Istio's four TCP metrics with,
 * once the Telemetry API's overrides (disable a metric, REMOVE or UPSERT a tag)
 * have applied: worked out once when the connection opens, from the labels
 * built then (labels.ts) and the overrides of the snapshot it opened under, so
 * its open, its close and its bytes count the same series however the
 * overrides change while it lasts, and opened - closed still falls back to 0.
 */
import type { Counter } from 'prom-client';
import type { TelemetryAttributes } from './expression.js';
import type { TcpLabelName, TcpLabels } from './labels.js';
import { applyLabelOperations, type MetricOverrides } from './metric-overrides.js';

/** Istio's Telemetry API names for the istio_tcp_* metrics. */
export const TCP_METRICS = ['TCP_OPENED_CONNECTIONS', 'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES'] as const;
export type TcpMetricName = (typeof TCP_METRICS)[number];

/** Per metric, the labels to record with, or undefined where the metric is disabled. */
export type TcpSeries = Readonly<Record<TcpMetricName, TcpLabels | undefined>>;

/**
 * What the attributes of a TCP connection are to the expression subset
 * (expression.ts): `connection.mtls` only; request and response attributes
 * are absent, as for Envoy's TCP proxy, so comparing them is false and an
 * UPSERT from them writes "unknown".
 */
export function tcpAttributes(mtls: boolean): TelemetryAttributes {
  return { responseCode: undefined, method: undefined, host: undefined, path: undefined, headers: {}, mtls };
}

export function tcpSeries(labels: TcpLabels, overrides: MetricOverrides | undefined, attrs: TelemetryAttributes): TcpSeries {
  const one = (name: TcpMetricName): TcpLabels | undefined => {
    const m = overrides?.metric(name);
    if (!m) return labels;
    if (m.disabled) return undefined;
    return Object.freeze(applyLabelOperations(labels, m, attrs));
  };
  return {
    TCP_OPENED_CONNECTIONS: one('TCP_OPENED_CONNECTIONS'),
    TCP_CLOSED_CONNECTIONS: one('TCP_CLOSED_CONNECTIONS'),
    TCP_SENT_BYTES: one('TCP_SENT_BYTES'),
    TCP_RECEIVED_BYTES: one('TCP_RECEIVED_BYTES'),
  };
}

/** A process's four istio_tcp_* counters (ambitd's DaemonMetrics and the waypoint's have them). */
export interface TcpCounters {
  readonly opened: Counter<TcpLabelName>;
  readonly closed: Counter<TcpLabelName>;
  /** istio_tcp_sent_bytes_total: the response's bytes, back to the caller (Istio's meaning for every reporter). */
  readonly sent: Counter<TcpLabelName>;
  /** istio_tcp_received_bytes_total: the request's bytes, toward the destination. */
  readonly received: Counter<TcpLabelName>;
}

/** A connection opened: counted on its series, unless the metric is disabled. */
export function countTcpOpened(c: TcpCounters, series: TcpSeries): void {
  if (series.TCP_OPENED_CONNECTIONS) c.opened.inc(series.TCP_OPENED_CONNECTIONS);
}

/** It closed, having carried `toDestination` bytes from the caller and `fromDestination` back. */
export function countTcpClosed(c: TcpCounters, series: TcpSeries, toDestination: number, fromDestination: number): void {
  if (series.TCP_CLOSED_CONNECTIONS) c.closed.inc(series.TCP_CLOSED_CONNECTIONS);
  if (series.TCP_RECEIVED_BYTES) c.received.inc(series.TCP_RECEIVED_BYTES, toDestination);
  if (series.TCP_SENT_BYTES) c.sent.inc(series.TCP_SENT_BYTES, fromDestination);
}
