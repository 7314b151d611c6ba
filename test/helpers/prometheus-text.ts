/** Reading Prometheus text exposition (a daemon's or waypoint's /metrics) in e2e tests and the demo. */

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of `name` (with labels), its labels parsed and unescaped. */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const labels: Record<string, string> = {};
    for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
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
