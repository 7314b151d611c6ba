/**
 * bench/waypoint's output: per-round samples folded into best and median, a
 * markdown table with the waypoint's ratios against the other paths, and the
 * name of its bench/RESULTS.md section.
 */
import { best, fmt, median, spread } from '../rounds.js';

export const PATH_NAMES = ['direct', 'haproxy', 'haproxy-tls', 'l4', 'waypoint'] as const;
export type PathName = (typeof PATH_NAMES)[number];

const COLUMN: Record<PathName, string> = { direct: 'direct', haproxy: 'haproxy', 'haproxy-tls': 'haproxy mTLS', l4: 'ambit L4', waypoint: 'ambit waypoint' };

/** One measurement of one path. */
export interface Sample {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors, timeouts and non-2xx/3xx responses. */
  errors: number;
  /** e.g. "read 3, status 1"; empty when there were none. */
  errorKinds: string;
  /** CPU seconds of every proxy process on the path per 10,000 requests (NaN for direct). */
  cpuPer10k: number;
  /** The same, per process ("ambitd a", "waypoint", "haproxy", ...). */
  cpuSplit: Record<string, number>;
}

interface Metric {
  key: 'rps' | 'p50Ms' | 'p99Ms' | 'cpuPer10k';
  label: string;
  digits: number;
  higherIsBetter: boolean;
}

const METRICS: Metric[] = [
  { key: 'rps', label: 'requests/s', digits: 0, higherIsBetter: true },
  { key: 'p50Ms', label: 'latency p50, ms', digits: 2, higherIsBetter: false },
  { key: 'p99Ms', label: 'latency p99, ms', digits: 2, higherIsBetter: false },
  { key: 'cpuPer10k', label: 'proxy CPU per 10k requests, s (all proxy processes)', digits: 2, higherIsBetter: false },
];

/** Peak and idle VmRSS (kB) of each proxy process. */
export interface Rss {
  idle: Record<string, number>;
  peak: Record<string, number>;
}

export function table(samples: Map<PathName, Sample[]>, rss: Rss): string {
  const paths = PATH_NAMES.filter((p) => samples.has(p));
  const ratioCols = (['direct', 'haproxy', 'haproxy-tls', 'l4'] as const)
    .filter((base) => samples.has('waypoint') && samples.has(base))
    .map((base) => [`waypoint ÷ ${COLUMN[base]}`, base] as const);
  const lines = [
    `| ${['metric (best of rounds; median in brackets)', ...paths.map((p) => COLUMN[p]), ...ratioCols.map(([h]) => h)].join(' | ')} |`,
    `|---|${[...paths, ...ratioCols].map(() => '---:').join('|')}|`,
  ];
  for (const m of METRICS) {
    const bestOf = (p: PathName): number =>
      best(
        samples.get(p)!.map((s) => s[m.key]),
        m.higherIsBetter,
      );
    const cells = paths.map((p) => `${fmt(bestOf(p), m.digits)} (${fmt(median(samples.get(p)!.map((s) => s[m.key])), m.digits)})`);
    const ratios = ratioCols.map(([, base]) => {
      const r = bestOf('waypoint') / bestOf(base);
      return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
    });
    lines.push(`| ${[m.label, ...cells, ...ratios].join(' | ')} |`);
  }
  const errors = paths.map((p) => String(samples.get(p)!.reduce((n, s) => n + s.errors, 0)));
  lines.push(`| ${['errors, all rounds (socket errors, timeouts, non-2xx)', ...errors, ...ratioCols.map(() => '')].join(' | ')} |`);
  const kinds = paths.flatMap((p) =>
    samples
      .get(p)!
      .filter((s) => s.errors > 0)
      .map((s) => `${COLUMN[p]}: ${s.errorKinds}`),
  );
  if (kinds.length > 0) lines.push('', `Errors by kind, per round that had any: ${kinds.join('; ')}.`);
  const split = paths
    .filter((p) => Object.keys(samples.get(p)![0]!.cpuSplit).length > 0)
    .map((p) => {
      const names = Object.keys(samples.get(p)![0]!.cpuSplit);
      return `${COLUMN[p]}: ${names.map((n) => `${n} ${median(samples.get(p)!.map((s) => s.cpuSplit[n]!)).toFixed(2)}`).join(', ')}`;
    });
  if (split.length > 0) lines.push('', `Proxy CPU per 10k requests by process, s (median of rounds): ${split.join('; ')}.`);
  const mb = (kb: number | undefined): string => (kb === undefined ? '?' : `${(kb / 1024).toFixed(0)} MiB`);
  const procs = Object.keys(rss.idle);
  if (procs.length > 0)
    lines.push('', `RSS (VmRSS), before the rounds → peak during them: ${procs.map((n) => `${n} ${mb(rss.idle[n])} → ${mb(rss.peak[n])}`).join(', ')}.`);
  return lines.join('\n');
}

/** Per-round values, so a reader can judge how far apart the rounds were. */
export function noise(samples: Map<PathName, Sample[]>): string {
  return PATH_NAMES.filter((p) => samples.has(p))
    .map((p) => {
      const list = samples.get(p)!;
      return `${COLUMN[p]}: req/s ${list.map((s) => s.rps.toFixed(0)).join(' / ')} (spread ${spread(list.map((s) => s.rps))}), p99 ms ${list.map((s) => s.p99Ms.toFixed(2)).join(' / ')}`;
    })
    .join('; ');
}

export const SECTION = 'Waypoint (HTTP)';
