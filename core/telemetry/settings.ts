/**
 * What the telemetry of one workload is set to: the seam between the
 * resolution of Istio Telemetry resources and mesh settings
 * (core/telemetry/resolve.ts) and the code that applies them live in ambitd
 * and the waypoint (tracing, access logs, istio_* metrics). Both sides depend
 * on these types only, so a Telemetry change reaches a running process as a
 * new TelemetrySettings value, never as a restart.
 */

/** A tracing backend, as Istio's meshConfig.extensionProviders declares one. */
export type TracingProvider =
  | {
      readonly name: string;
      readonly kind: 'opentelemetry';
      /** Full URL of the OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
      readonly endpoint: string;
      readonly encoding: 'protobuf' | 'json';
      readonly timeoutMs: number;
      readonly headers: Readonly<Record<string, string>>;
    }
  | {
      readonly name: string;
      readonly kind: 'zipkin';
      /** Full URL of the Zipkin v2 spans endpoint, e.g. http://127.0.0.1:9411/api/v2/spans. */
      readonly endpoint: string;
      readonly timeoutMs: number;
      /** Istio's zipkin maxTagLength: longer attribute values are cut. */
      readonly maxTagLength: number;
    }
  | { readonly name: string; readonly kind: 'console' };

/** Istio Telemetry's tracing.customTags: an attribute added to every span. */
export type CustomTag =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'header'; readonly name: string; readonly defaultValue?: string }
  | { readonly kind: 'environment'; readonly name: string; readonly defaultValue?: string };

export interface TracingSettings {
  /** Empty: no spans are made, and no propagation headers are added or changed. */
  readonly providers: readonly TracingProvider[];
  /** Sampling of new traces, 0 to 100; a sampled or unsampled parent decides for its children. */
  readonly samplingPercentage: number;
  readonly customTags: Readonly<Record<string, CustomTag>>;
}

/** The names Istio's Telemetry API gives its standard metrics (metrics.overrides.match.metric). */
export const ISTIO_METRIC_NAMES = [
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
] as const;
export type IstioMetricName = (typeof ISTIO_METRIC_NAMES)[number];

/** Istio's tagOverrides: remove a label, or set it from an expression. */
export type TagOverride = { readonly operation: 'REMOVE' } | { readonly operation: 'UPSERT'; readonly value: string };

export interface MetricOverride {
  /** undefined: every metric (Istio's ALL_METRICS). */
  readonly metric: IstioMetricName | undefined;
  /** undefined: left as a less specific override set it (Istio's disabled is a BoolValue: unset is not false). */
  readonly disabled: boolean | undefined;
  readonly tagOverrides: Readonly<Record<string, TagOverride>>;
}

export interface AccessLogSettings {
  readonly enabled: boolean;
  /** Istio's accessLogging.filter.expression as written; resolve.ts has checked it is in the supported subset. */
  readonly filter: string | undefined;
}

export interface TelemetrySettings {
  readonly tracing: TracingSettings;
  readonly accessLogging: AccessLogSettings;
  readonly metrics: readonly MetricOverride[];
}

/** Without any Telemetry resource or mesh settings: no tracing, access logs on, every metric. */
export const DEFAULT_TELEMETRY: TelemetrySettings = {
  tracing: { providers: [], samplingPercentage: 1, customTags: {} },
  accessLogging: { enabled: true, filter: undefined },
  metrics: [],
};
