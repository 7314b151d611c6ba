/**
 * The telemetry one served service gets from Istio Telemetry resources and the
 * MeshConfig, compiled once per mesh snapshot: whether a finished request is
 * access-logged (on/off and the filter, parsed once) and what each istio_*
 * metric's overrides are. A new snapshot builds new ones, so a Telemetry change
 * takes effect on the next request without a restart.
 */
import type { MeshView } from './mesh-view.js';
import { evaluateCondition, parseTelemetryExpression, type TelemetryAttributes, type TelemetryExpression } from '../core/telemetry/expression.js';
import { compileMetric, unknownTags, type CompiledMetric } from '../core/telemetry/metric-overrides.js';
import { REQUEST_LABELS } from '../core/telemetry/labels.js';
import { resolveTelemetry } from '../core/telemetry/resolve.js';
import type { IstioMetricName, TelemetrySettings } from '../core/telemetry/settings.js';

export class ServiceTelemetry {
  readonly settings: TelemetrySettings;
  /** Resources that could not apply as written, for a warning when they change. */
  readonly problems: readonly string[];
  readonly #filter: TelemetryExpression | undefined;
  readonly #metrics = new Map<IstioMetricName, CompiledMetric>();

  constructor(mesh: MeshView, service: { namespace: string; name: string }) {
    const resolved = resolveTelemetry(
      { telemetries: mesh.typed.of('Telemetry'), meshConfigs: mesh.typed.of('MeshConfig'), rootNamespace: mesh.policies.rootNamespace },
      { namespace: service.namespace, serviceName: service.name },
    );
    this.settings = resolved.settings;
    // prom-client fixes label names at registration, so an override can change Istio's labels but not add one.
    const added = new Set(
      (['REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE'] as const).flatMap((m) => unknownTags(this.metric(m), REQUEST_LABELS)),
    );
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

  /** Whether this finished request gets an access-log line; `attrs` is only read when a filter needs it. */
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
