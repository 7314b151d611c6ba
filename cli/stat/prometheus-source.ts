/**
 * `ambit stat --prometheus URL`: the same increases golden.ts reads, from
 * Prometheus's HTTP API with Istio-compatible PromQL (the queries Istio's
 * Grafana dashboards and Kiali run over istio_requests_total,
 * istio_request_duration_milliseconds_bucket and istio_tcp_*), summed by the
 * labels golden.ts keys on. A window of 0 reads the counters' current totals.
 */
import { MonitorError } from './errors.js';
import { DURATION_BUCKETS, EDGE_KEY, REQUESTS, STAT_SERIES, type Increase, type StatQuery } from './golden.js';

/** What every query keeps: the keys of a row, the reporter that decides which count is read, and the --from match. */
const BY = ['reporter', ...EDGE_KEY, 'source_canonical_service'];

/** One PromQL query per series: `sum by (…) (increase(name{…}[w]))`. */
export function statQueries(q: StatQuery): { name: string; query: string }[] {
  return STAT_SERIES.map((name) => {
    const by = [...BY, ...(name === REQUESTS ? ['response_code'] : name === DURATION_BUCKETS ? ['le'] : [])];
    const selector = `${name}{${matchers(name, q).join(',')}}`;
    const inner = q.windowSeconds > 0 ? `increase(${selector}[${q.windowSeconds}s])` : selector;
    return { name, query: `sum by (${by.join(', ')}) (${inner})` };
  });
}

function matchers(name: string, q: StatQuery): string[] {
  const m = [name.startsWith('istio_tcp_') ? 'reporter="destination"' : 'reporter=~"waypoint|destination"'];
  const eq = (label: string, value: string) => `${label}=${JSON.stringify(value)}`;
  if (q.service !== undefined) m.push(eq('destination_service_name', q.service));
  if (q.namespace !== undefined && (q.service !== undefined || q.from === undefined)) m.push(eq('destination_service_namespace', q.namespace));
  if (q.from !== undefined) {
    m.push(eq('source_canonical_service', q.from));
    if (q.namespace !== undefined) m.push(eq('source_workload_namespace', q.namespace));
  }
  return m;
}

interface VectorReply {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

export async function queryIncreases(url: string, q: StatQuery, timeoutMs = 10_000): Promise<Increase[]> {
  const base = url.replace(/\/+$/, '');
  const out: Increase[] = [];
  for (const { name, query } of statQueries(q)) {
    const target = `${base}/api/v1/query?${new URLSearchParams({ query }).toString()}`;
    let reply: VectorReply;
    try {
      const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
      reply = (await res.json()) as VectorReply;
    } catch (err) {
      throw new MonitorError('ESTAT_PROMETHEUS', `Prometheus at ${base} did not answer (${(err as Error).message}): check --prometheus`, { url: base });
    }
    if (reply.status !== 'success' || reply.data?.resultType !== 'vector') {
      throw new MonitorError('ESTAT_PROMETHEUS', `Prometheus at ${base} refused ${query}: ${reply.error ?? 'not an instant vector'}`, { url: base, query });
    }
    for (const r of reply.data.result) {
      const value = Number(r.value[1]);
      if (Number.isFinite(value)) out.push({ name, labels: r.metric, value });
    }
  }
  return out;
}
