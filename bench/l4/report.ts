/**
 * bench/l4's output: per-round samples folded into best and median, a
 * markdown table with ratios, and the name of its bench/RESULTS.md section.
 */
import { best, fmt, median, spread } from '../rounds.js';

export type PathName = 'direct' | 'stunnel' | 'ambit';

/** One round of one path. Latencies in microseconds. */
export interface Sample {
  gbps: number;
  p50: number;
  p99: number;
  p999: number;
  connPerSecond: number;
  /** New connections that failed (reset, refused) out of the attempted count. */
  connFailed: number;
  /** CPU seconds of both proxies per GiB of bulk (NaN for direct): efficiency that survives a busy host. */
  bulkCpuPerGiB: number;
  /** CPU milliseconds of both proxies per new connection. */
  connCpuMs: number;
}

export interface Rss {
  /** kB per host, before any load. */
  idle: Record<string, number>;
  /** Peak kB per host while the bulk transfer ran (over all rounds). */
  bulk: Record<string, number>;
}

interface Metric {
  key: keyof Sample;
  label: string;
  digits: number;
  higherIsBetter: boolean;
}

const METRICS: Metric[] = [
  { key: 'gbps', label: 'bulk throughput, Gbit/s (1 connection)', digits: 2, higherIsBetter: true },
  { key: 'p50', label: 'request/response p50, µs', digits: 0, higherIsBetter: false },
  { key: 'p99', label: 'request/response p99, µs', digits: 0, higherIsBetter: false },
  { key: 'p999', label: 'request/response p99.9, µs', digits: 0, higherIsBetter: false },
  { key: 'connPerSecond', label: 'new connections/s (connect + 1 B exchange + close)', digits: 0, higherIsBetter: true },
  { key: 'bulkCpuPerGiB', label: 'proxy CPU per GiB of bulk, s (both ends)', digits: 2, higherIsBetter: false },
  { key: 'connCpuMs', label: 'proxy CPU per new connection, ms (both ends)', digits: 2, higherIsBetter: false },
];

export function table(samples: Map<PathName, Sample[]>, rss: Rss | undefined): string {
  const paths = [...samples.keys()];
  const has = (p: PathName): boolean => samples.has(p);
  const head = ['metric (best of rounds; median in brackets)', ...paths.map(String)];
  const ratioCols: Array<[string, PathName]> = [];
  if (has('ambit') && has('direct')) ratioCols.push(['ambit ÷ direct', 'direct']);
  if (has('ambit') && has('stunnel')) ratioCols.push(['ambit ÷ stunnel', 'stunnel']);
  const lines = [`| ${[...head, ...ratioCols.map(([h]) => h)].join(' | ')} |`, `|---|${[...paths, ...ratioCols].map(() => '---:').join('|')}|`];
  for (const m of METRICS) {
    const bestOf = (p: PathName): number =>
      best(
        samples.get(p)!.map((s) => s[m.key]),
        m.higherIsBetter,
      );
    const cells = paths.map((p) => {
      const xs = samples.get(p)!.map((s) => s[m.key]);
      return `${fmt(bestOf(p), m.digits)} (${fmt(median(xs), m.digits)})`;
    });
    const ratios = ratioCols.map(([, base]) => {
      const r = bestOf('ambit') / bestOf(base);
      return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
    });
    lines.push(`| ${[m.label, ...cells, ...ratios].join(' | ')} |`);
  }
  const failed = paths
    .filter((p) => samples.get(p)!.some((s) => s.connFailed > 0))
    .map(
      (p) =>
        `${p} ${samples
          .get(p)!
          .map((s) => s.connFailed)
          .join(' / ')}`,
    );
  if (failed.length > 0) lines.push('', `Failed new connections per round (not counted in conn/s): ${failed.join('; ')}.`);
  if (rss) {
    const mb = (kb: number | undefined): string => (kb === undefined ? '?' : `${(kb / 1024).toFixed(0)} MiB`);
    lines.push('', `ambitd RSS (VmRSS): idle a ${mb(rss.idle.a)}, b ${mb(rss.idle.b)}; peak under bulk load a ${mb(rss.bulk.a)}, b ${mb(rss.bulk.b)}.`);
  }
  return lines.join('\n');
}

/** Per-round values of the noisiest metrics, so a reader can judge the spread. */
export function noise(samples: Map<PathName, Sample[]>): string {
  return [...samples]
    .map(
      ([p, list]) =>
        `${p}: Gbit/s ${list.map((s) => s.gbps.toFixed(2)).join(' / ')} (spread ${spread(list.map((s) => s.gbps))}), p99 µs ${list.map((s) => s.p99.toFixed(0)).join(' / ')}, conn/s ${list.map((s) => s.connPerSecond.toFixed(0)).join(' / ')}`,
    )
    .join('; ');
}

export const SECTION = 'L4 data plane (bench/l4)';
