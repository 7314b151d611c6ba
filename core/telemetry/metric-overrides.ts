/**
 * Telemetry metrics overrides applied to one istio_* metric: whether it is
 * recorded at all, and how its labels change (REMOVE empties a label, which
 * Prometheus treats as absent; UPSERT sets it from an expression). Compiled once
 * per TelemetrySettings, so a request only evaluates the expressions it needs.
 */
import { evaluateLabel, parseTelemetryExpression, type TelemetryAttributes, type TelemetryExpression } from './expression.js';
import type { IstioMetricName, MetricOverride } from './settings.js';

export type LabelOperation =
  { readonly tag: string; readonly remove: true } | { readonly tag: string; readonly remove: false; readonly value: TelemetryExpression };

export interface CompiledMetric {
  readonly disabled: boolean;
  /** One per tag, the last override's; empty in the common case. */
  readonly operations: readonly LabelOperation[];
}

/** The Telemetry API's metric overrides for the workload or service a sample belongs to (compiled.ts). */
export interface MetricOverrides {
  metric(name: IstioMetricName): CompiledMetric;
}

const UNCHANGED: CompiledMetric = { disabled: false, operations: [] };

/** Later overrides win, tag by tag, as a more specific Telemetry comes later (resolve.ts). */
export function compileMetric(overrides: readonly MetricOverride[], metric: IstioMetricName): CompiledMetric {
  const applicable = overrides.filter((o) => o.metric === undefined || o.metric === metric);
  if (applicable.length === 0) return UNCHANGED;
  let disabled = false;
  const byTag = new Map<string, LabelOperation>();
  for (const o of applicable) {
    // Istio's disabled is a BoolValue: an override that leaves it unset keeps what an earlier one said.
    if (o.disabled !== undefined) disabled = o.disabled;
    for (const [tag, op] of Object.entries(o.tagOverrides)) {
      if (op.operation === 'REMOVE') {
        byTag.set(tag, { tag, remove: true });
        continue;
      }
      const parsed = parseTelemetryExpression(op.value, 'tag override');
      // resolve.ts only passes values the Telemetry schema accepted at apply time.
      if (!parsed.ok) throw new Error(parsed.message);
      byTag.set(tag, { tag, remove: false, value: parsed.expression });
    }
  }
  return { disabled, operations: [...byTag.values()] };
}

/**
 * The labels one sample is recorded with. Only tags the metric already has
 * are changed: prom-client fixes a metric's label names when it is
 * registered, so a new tag name is reported by `unknownTags` instead.
 */
export function applyLabelOperations<L extends Record<string, string>>(labels: L, metric: CompiledMetric, attrs: TelemetryAttributes): L {
  if (metric.operations.length === 0) return labels;
  const out: Record<string, string> = { ...labels };
  for (const op of metric.operations) {
    if (!Object.hasOwn(out, op.tag)) continue;
    out[op.tag] = op.remove ? '' : evaluateLabel(op.value, attrs);
  }
  return out as L;
}

/** Tags an override names that the metric does not carry, for a warning when settings change. */
export function unknownTags(metric: CompiledMetric, labelNames: readonly string[]): string[] {
  return metric.operations.map((o) => o.tag).filter((tag) => !labelNames.includes(tag));
}
