/**
 * `ambit stat` without Prometheus: the proxies' own /metrics, found through the
 * store as `ambit prometheus sd` finds them (cli/prometheus-targets.ts): every
 * live node's ambitd at its address on the daemons' metrics port, and the
 * waypoints of this node at 127.0.0.1 (they serve metrics on loopback only, so
 * another node's waypoint is reported as out of reach, not silently left out).
 * Scraped twice, a window apart, and subtracted series by series into the
 * increases golden.ts reads; a window of 0 scrapes once and reads totals.
 */
import { parsePrometheusText } from '../../core/telemetry/prometheus-text.js';
import type { EndpointRecord, NodeRecord } from '../../core/store/types.js';
import { waypointOf } from '../../core/store/waypoints.js';
import { scrapeTargets } from '../prometheus-targets.js';
import { MonitorError } from './errors.js';
import { STAT_SERIES, type Increase } from './golden.js';

export interface ScrapeOptions {
  daemonPort: number;
  /** This host's node: its waypoints are reachable at loopback. */
  node: string;
  windowSeconds: number;
  timeoutMs?: number;
  /** Told about each target that did not answer, and each waypoint out of reach. */
  warn: (message: string) => void;
}

export async function scrapeIncreases(nodes: readonly NodeRecord[], endpoints: readonly EndpointRecord[], o: ScrapeOptions): Promise<Increase[]> {
  const daemons = scrapeTargets(nodes, endpoints, { daemonPort: o.daemonPort });
  const local = scrapeTargets(nodes, endpoints, { daemonPort: o.daemonPort, node: o.node }).filter((g) => g.labels.job === 'ambit-waypoint');
  const targets = [...daemons, ...local].flatMap((g) => g.targets);
  for (const ep of endpoints) {
    const w = waypointOf(ep);
    if (w && w.node !== o.node) {
      o.warn(
        `the waypoint for ${w.namespace}/${w.service} runs on node ${w.node}, whose metrics are on its loopback: run ambit stat there, or use --prometheus`,
      );
    }
  }
  const first = await scrapeAll(targets, o);
  if (first.size === 0) {
    throw new MonitorError(
      'ESTAT_NO_SOURCE',
      `none of the ${targets.length} metrics endpoints the store lists answered (${targets.join(', ') || 'none listed'}): run ambit stat on a mesh node, check --daemon-port, or pass --prometheus URL`,
      { targets },
    );
  }
  if (o.windowSeconds === 0) return [...first.values()].flat();
  await new Promise((r) => setTimeout(r, o.windowSeconds * 1000));
  const second = await scrapeAll([...first.keys()], o);
  const out: Increase[] = [];
  for (const [target, after] of second) out.push(...subtract(first.get(target) ?? [], after));
  return out;
}

/** The stat series of every target that answered, by target. */
async function scrapeAll(targets: readonly string[], o: ScrapeOptions): Promise<Map<string, Increase[]>> {
  const wanted = new Set<string>(STAT_SERIES);
  const got = new Map<string, Increase[]>();
  await Promise.all(
    targets.map(async (target) => {
      try {
        const res = await fetch(`http://${target}/metrics`, { signal: AbortSignal.timeout(o.timeoutMs ?? 3000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        got.set(
          target,
          parsePrometheusText(await res.text()).samples.filter((s) => wanted.has(s.name)),
        );
      } catch (err) {
        o.warn(`could not scrape http://${target}/metrics (${(err as Error).message}); its traffic is not counted`);
      }
    }),
  );
  return got;
}

/**
 * after - before per series; a series that is new counts from 0 (prom-client
 * creates it on its first increment, inside the window) and one that went down
 * was reset (the proxy restarted), so it counts from 0 too, as Prometheus's
 * increase() reads a reset.
 */
export function subtract(before: readonly Increase[], after: readonly Increase[]): Increase[] {
  const key = (s: Increase) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
  const was = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => {
    const prior = was.get(key(s)) ?? 0;
    return { ...s, value: s.value >= prior ? s.value - prior : s.value };
  });
}
