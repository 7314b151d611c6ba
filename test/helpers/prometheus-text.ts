/** Reading Prometheus text exposition (a daemon's or waypoint's /metrics) in e2e tests and the demo, with core's parser. */
import { parsePrometheusText, type Sample as ParsedSample } from '../../core/telemetry/prometheus-text.js';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of `name` (with or without labels), its labels parsed and unescaped. */
export function samples(text: string, name: string): Sample[] {
  return parsePrometheusText(text)
    .samples.filter((s: ParsedSample) => s.name === name)
    .map(({ labels, value }) => ({ labels, value }));
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples(text, name)) if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  return total;
}

/** PromQL's `sum by (<by>) (name)`: the samples summed per combination of the `by` labels' values, keyed by them joined with '|'. */
export function sumBy(text: string, name: string, by: readonly string[], where: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples(text, name)) {
    if (!Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const key = by.map((k) => s.labels[k] ?? '').join('|');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}
