/**
 * The labels one TCP connection records each of Istio's four TCP metrics with,
 * once the Telemetry API's overrides (disable a metric, REMOVE or UPSERT a tag)
 * have applied: worked out once when the connection opens, from the labels
 * built then (labels.ts) and the overrides of the snapshot it opened under, so
 * its open, its close and its bytes count the same series however the
 * overrides change while it lasts, and opened - closed still falls back to 0.
 */
import type { TelemetryAttributes } from './expression.js';
import type { TcpLabels } from './labels.js';
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
