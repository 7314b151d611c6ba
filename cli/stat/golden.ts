/**
 * Golden metrics (linkerd viz stat's columns: success rate, req/s, p50/p95/p99,
 * TCP connections and bytes) from the increase of Istio's series over a window.
 * Both sources end here: two scrapes of the proxies' /metrics subtracted
 * (cli/stat/scrape.ts), or Prometheus's `sum by (…) (increase(…[w]))`
 * (cli/stat/prometheus-source.ts), so a service reads the same either way.
 * Which reporter counts: HTTP from the waypoint (reporter="waypoint", the only
 * proxy that sees requests), else the destination's; TCP from the destination
 * daemon (reporter="destination"), as Istio's dashboards and Kiali read them,
 * so a connection is counted once, not by both ends. Pure.
 */

/** A series' increase over the window (or its total, for a window of 0). */
export interface Increase {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export const REQUESTS = 'istio_requests_total';
export const DURATION_BUCKETS = 'istio_request_duration_milliseconds_bucket';
export const TCP_OPENED = 'istio_tcp_connections_opened_total';
export const TCP_CLOSED = 'istio_tcp_connections_closed_total';
export const TCP_RECEIVED = 'istio_tcp_received_bytes_total';
export const TCP_SENT = 'istio_tcp_sent_bytes_total';
export const STAT_SERIES = [REQUESTS, DURATION_BUCKETS, TCP_OPENED, TCP_CLOSED, TCP_RECEIVED, TCP_SENT] as const;

/** The labels rows are keyed by: the destination service, and with edges the source workload. */
export const SERVICE_KEY = ['destination_service_namespace', 'destination_service_name'] as const;
export const EDGE_KEY = [...SERVICE_KEY, 'source_workload_namespace', 'source_workload'] as const;

export interface StatQuery {
  /** Only this destination service (name), in `namespace`. */
  service?: string;
  /** Namespace of `service` and `from`; undefined: every namespace (only without service/from). */
  namespace?: string;
  /** Only traffic from this service's workloads (its canonical service), and one row per source workload. */
  from?: string;
  /** One row per (destination, source workload) even without `from`. */
  edges?: boolean;
  /** The window's length; 0 when the increases are totals since the proxies started. */
  windowSeconds: number;
}

export interface StatRow {
  namespace: string;
  service: string;
  /** With edges: the calling workload (`unknown` for callers outside the mesh). */
  from?: { namespace: string; workload: string };
  requests: number;
  /** Requests not answered 5xx (nor left unanswered), over all; undefined with no requests. */
  successRate: number | undefined;
  /** requests / window; undefined for a window of 0. */
  rps: number | undefined;
  latencyMs: { p50: number | undefined; p95: number | undefined; p99: number | undefined };
  tcp: {
    /** Connections the destination daemons opened and closed in the window (with a window of 0: ever; opened - closed are open now). */
    opened: number;
    closed: number;
    receivedBytes: number;
    sentBytes: number;
  };
}

interface Acc {
  row: StatRow;
  buckets: Map<number, number>;
  waypointBuckets: Map<number, number>;
  requestsBy: { waypoint: number; destination: number; waypointFailures: number; destinationFailures: number };
}

export function goldenMetrics(increases: readonly Increase[], q: StatQuery): StatRow[] {
  const edges = q.edges === true || q.from !== undefined;
  const rows = new Map<string, Acc>();
  for (const inc of increases) {
    const l = inc.labels;
    if (!matches(l, q)) continue;
    const reporter = l.reporter;
    const isTcp = inc.name.startsWith('istio_tcp_');
    if (isTcp ? reporter !== 'destination' : reporter !== 'waypoint' && reporter !== 'destination') continue;
    const acc = accFor(rows, l, edges);
    const r = acc.row;
    switch (inc.name) {
      case REQUESTS: {
        const failed = isFailure(l.response_code);
        if (reporter === 'waypoint') {
          acc.requestsBy.waypoint += inc.value;
          if (failed) acc.requestsBy.waypointFailures += inc.value;
        } else {
          acc.requestsBy.destination += inc.value;
          if (failed) acc.requestsBy.destinationFailures += inc.value;
        }
        break;
      }
      case DURATION_BUCKETS: {
        const le = l.le === '+Inf' ? Infinity : Number(l.le);
        if (Number.isNaN(le)) break;
        const into = reporter === 'waypoint' ? acc.waypointBuckets : acc.buckets;
        into.set(le, (into.get(le) ?? 0) + inc.value);
        break;
      }
      case TCP_OPENED:
        r.tcp.opened += inc.value;
        break;
      case TCP_CLOSED:
        r.tcp.closed += inc.value;
        break;
      case TCP_RECEIVED:
        r.tcp.receivedBytes += inc.value;
        break;
      case TCP_SENT:
        r.tcp.sentBytes += inc.value;
        break;
    }
  }
  const out: StatRow[] = [];
  for (const acc of rows.values()) {
    const r = acc.row;
    const b = acc.requestsBy;
    // A service behind a waypoint: the waypoint's count (its destinations would count the same requests again, when they report HTTP).
    const viaWaypoint = b.waypoint > 0 || acc.waypointBuckets.size > 0;
    r.requests = viaWaypoint ? b.waypoint : b.destination;
    const failures = viaWaypoint ? b.waypointFailures : b.destinationFailures;
    r.successRate = r.requests > 0 ? (r.requests - failures) / r.requests : undefined;
    r.rps = q.windowSeconds > 0 ? r.requests / q.windowSeconds : undefined;
    const buckets = viaWaypoint ? acc.waypointBuckets : acc.buckets;
    r.latencyMs = { p50: histogramQuantile(0.5, buckets), p95: histogramQuantile(0.95, buckets), p99: histogramQuantile(0.99, buckets) };
    out.push(r);
  }
  return out.sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
}

/** Istio's (and Kiali's) failure: a 5xx answer, or none (response_code 0: the client or upstream left first). */
function isFailure(code: string | undefined): boolean {
  return code === undefined || code === '0' || code.startsWith('5');
}

function matches(l: Readonly<Record<string, string>>, q: StatQuery): boolean {
  if (q.namespace !== undefined && q.service !== undefined && l.destination_service_namespace !== q.namespace) return false;
  if (q.service !== undefined && l.destination_service_name !== q.service) return false;
  if (q.from !== undefined) {
    if (q.namespace !== undefined && l.source_workload_namespace !== q.namespace) return false;
    if (l.source_canonical_service !== q.from) return false;
  }
  if (q.namespace !== undefined && q.service === undefined && q.from === undefined && l.destination_service_namespace !== q.namespace) return false;
  return true;
}

function accFor(rows: Map<string, Acc>, l: Readonly<Record<string, string>>, edges: boolean): Acc {
  const namespace = l.destination_service_namespace ?? 'unknown';
  const service = l.destination_service_name ?? 'unknown';
  const from = edges ? { namespace: l.source_workload_namespace ?? 'unknown', workload: l.source_workload ?? 'unknown' } : undefined;
  const key = [namespace, service, from?.namespace, from?.workload].join('|');
  let acc = rows.get(key);
  if (!acc) {
    const row: StatRow = {
      namespace,
      service,
      ...(from ? { from } : {}),
      requests: 0,
      successRate: undefined,
      rps: undefined,
      latencyMs: { p50: undefined, p95: undefined, p99: undefined },
      tcp: { opened: 0, closed: 0, receivedBytes: 0, sentBytes: 0 },
    };
    rows.set(
      key,
      (acc = {
        row,
        buckets: new Map(),
        waypointBuckets: new Map(),
        requestsBy: { waypoint: 0, destination: 0, waypointFailures: 0, destinationFailures: 0 },
      }),
    );
  }
  return acc;
}

const rowKey = (r: StatRow) => `${r.namespace}/${r.service}|${r.from?.namespace ?? ''}/${r.from?.workload ?? ''}`;

/**
 * PromQL's histogram_quantile over cumulative bucket counts (upper bound ->
 * count): linear interpolation inside the bucket the rank falls in, from 0 for
 * the first; a rank in the +Inf bucket answers the highest finite bound.
 * Undefined when the histogram is empty.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (sorted.length === 0 || total <= 0 || sorted.at(-1)![0] !== Infinity) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      if (count === lowerCount) return le;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
