/**
 * The Telemetry API's resolved settings for one workload or served service,
 * compiled for the data path: the access-log filter parsed once and each
 * istio_* metric's overrides compiled on first use. ambitd (per workload,
 * daemon/workload-telemetry.ts) and the waypoint (per service,
 * waypoint/telemetry.ts) build one per mesh snapshot, so a Telemetry change
 * takes effect on the next connection or request without a restart.
 */
import { evaluateCondition, parseTelemetryExpression, type TelemetryAttributes, type TelemetryExpression } from './expression.js';
import { compileMetric, unknownTags, type CompiledMetric, type MetricOverrides } from './metric-overrides.js';
import type { ResolvedTelemetry } from './resolve.js';
import type { IstioMetricName, TelemetrySettings } from './settings.js';

/** The metrics a process records and the label names they carry: what an override may change. */
export interface RecordedMetrics {
  readonly names: readonly IstioMetricName[];
  readonly labels: readonly string[];
}

export class CompiledTelemetry implements MetricOverrides {
  readonly settings: TelemetrySettings;
  /** Resources or overrides that could not apply as written, for a warning when they change. */
  readonly problems: readonly string[];
  readonly #filter: TelemetryExpression | undefined;
  readonly #metrics = new Map<IstioMetricName, CompiledMetric>();

  constructor(resolved: ResolvedTelemetry, recorded: RecordedMetrics) {
    this.settings = resolved.settings;
    // prom-client fixes label names at registration, so an override can change Istio's labels but not add one.
    const added = new Set(recorded.names.flatMap((m) => unknownTags(this.metric(m), recorded.labels)));
    this.problems = [
      ...resolved.problems,
      ...[...added].map(
        (tag) => `tagOverrides ${tag}: not one of Istio's standard labels, which are all ambit's istio_* metrics carry; the override is ignored`,
      ),
    ];
    const filter = resolved.settings.accessLogging.filter;
    const parsed = filter === undefined ? undefined : parseTelemetryExpression(filter, 'access-log filter');
    // The schema refused any filter outside the subset at apply time; one that still fails here logs everything rather than nothing.
    this.#filter = parsed?.ok ? parsed.expression : undefined;
  }

  /** Whether this finished request or connection gets an access-log line; `attrs` is only read when a filter needs it. */
  logs(attrs: () => TelemetryAttributes): boolean {
    if (!this.settings.accessLogging.enabled) return false;
    return this.#filter === undefined || evaluateCondition(this.#filter, attrs());
  }

  metric(name: IstioMetricName): CompiledMetric {
    let m = this.#metrics.get(name);
    if (!m) this.#metrics.set(name, (m = compileMetric(this.settings.metrics, name)));
    return m;
  }
}
