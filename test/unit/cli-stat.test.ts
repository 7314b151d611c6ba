import test from 'ava';
import { goldenMetrics, histogramQuantile, type Increase } from '../../cli/stat/golden.js';
import { subtract } from '../../cli/stat/scrape.js';
import { statQueries } from '../../cli/stat/prometheus-source.js';

const base = {
  destination_service_namespace: 'default',
  destination_service_name: 'reviews',
  source_workload_namespace: 'default',
  source_workload: 'productpage-v1',
  source_canonical_service: 'productpage',
};
const req = (reporter: string, code: string, value: number, extra: Record<string, string> = {}): Increase => ({
  name: 'istio_requests_total',
  labels: { ...base, reporter, response_code: code, ...extra },
  value,
});
const bucket = (reporter: string, le: string, value: number): Increase => ({
  name: 'istio_request_duration_milliseconds_bucket',
  labels: { ...base, reporter, le },
  value,
});
const tcp = (name: string, reporter: string, value: number, extra: Record<string, string> = {}): Increase => ({
  name,
  labels: { ...base, reporter, ...extra },
  value,
});

test('histogramQuantile is PromQL histogram_quantile: interpolated inside the bucket, the top finite bound for +Inf', (t) => {
  const b = new Map([
    [10, 50],
    [100, 90],
    [Infinity, 100],
  ]);
  t.is(histogramQuantile(0.5, b), 10);
  t.is(histogramQuantile(0.25, b), 5);
  t.is(histogramQuantile(0.7, b), 10 + (90 * (70 - 50)) / 40);
  t.is(histogramQuantile(0.95, b), 100, 'a rank in +Inf answers the highest finite bound');
  t.is(histogramQuantile(0.5, new Map([[Infinity, 0]])), undefined, 'empty');
  t.is(histogramQuantile(0.5, new Map([[10, 5]])), undefined, 'no +Inf bucket: not a whole histogram');
});

test('a service behind a waypoint: the waypoint counts requests once, 5xx and unanswered are failures, TCP from the destination daemon only', (t) => {
  const rows = goldenMetrics(
    [
      req('waypoint', '200', 90),
      req('waypoint', '503', 8),
      req('waypoint', '0', 2),
      req('destination', '200', 100, { destination_workload: 'ignored' }),
      bucket('waypoint', '10', 50),
      bucket('waypoint', '100', 100),
      bucket('waypoint', '+Inf', 100),
      tcp('istio_tcp_connections_opened_total', 'destination', 4),
      tcp('istio_tcp_connections_opened_total', 'source', 4),
      tcp('istio_tcp_received_bytes_total', 'destination', 1000),
      tcp('istio_tcp_sent_bytes_total', 'destination', 5000),
    ],
    { windowSeconds: 10 },
  );
  t.is(rows.length, 1);
  t.like(rows[0], { namespace: 'default', service: 'reviews', requests: 100, successRate: 0.9, rps: 10 });
  t.deepEqual(rows[0]!.latencyMs, { p50: 10, p95: 10 + (90 * 45) / 50, p99: 10 + (90 * 49) / 50 });
  t.deepEqual(rows[0]!.tcp, { opened: 4, closed: 0, receivedBytes: 1000, sentBytes: 5000 });
  t.is(rows[0]!.from, undefined);
});

test('without a waypoint the destination reporter counts; --from and --edges key rows by the calling workload; filters', (t) => {
  const all = [
    req('destination', '200', 10),
    req('destination', '200', 5, { source_workload: 'reviews-v2', source_canonical_service: 'reviews', destination_service_name: 'ratings' }),
    req('destination', '200', 7, { source_workload: 'other', source_canonical_service: 'other' }),
    req('destination', '200', 3, { destination_service_namespace: 'prod' }),
  ];
  t.deepEqual(
    goldenMetrics(all, { windowSeconds: 0 }).map((r) => `${r.namespace}/${r.service}=${r.requests}:${String(r.rps)}`),
    ['default/ratings=5:undefined', 'default/reviews=17:undefined', 'prod/reviews=3:undefined'],
  );
  t.deepEqual(
    goldenMetrics(all, { windowSeconds: 0, service: 'reviews', namespace: 'default', edges: true }).map((r) => `${r.from?.workload}=${r.requests}`),
    ['other=7', 'productpage-v1=10'],
  );
  t.deepEqual(
    goldenMetrics(all, { windowSeconds: 0, from: 'productpage', namespace: 'default' }).map(
      (r) => `${r.namespace}/${r.service}<-${r.from?.workload}=${r.requests}`,
    ),
    ['default/reviews<-productpage-v1=10', 'prod/reviews<-productpage-v1=3'],
    'only traffic from productpage, in every destination namespace it called',
  );
  t.deepEqual(
    goldenMetrics(all, { windowSeconds: 0, namespace: 'prod' }).map((r) => r.requests),
    [3],
  );
  t.deepEqual(goldenMetrics(all, { windowSeconds: 0, service: 'nosuch', namespace: 'default' }), []);
});

test('subtract: the increase per series; a new series counts from 0, a reset one from its restart', (t) => {
  const s = (value: number, code = '200'): Increase => ({ name: 'istio_requests_total', labels: { a: '1', response_code: code }, value });
  const reordered: Increase = { name: 'istio_requests_total', labels: { response_code: '200', a: '1' }, value: 10 };
  t.deepEqual(
    subtract([reordered, s(50, '500')], [s(25), s(3, '500'), s(4, '404')]).map((i) => i.value),
    [15, 3, 4],
    'label order does not matter; 50 -> 3 was a restart; 404 is new',
  );
});

test('statQueries: Istio PromQL, increase over the window, waypoint/destination reporters for HTTP and destination for TCP', (t) => {
  const qs = new Map(statQueries({ windowSeconds: 60, service: 'reviews', namespace: 'default' }).map((q) => [q.name, q.query]));
  t.is(
    qs.get('istio_requests_total'),
    'sum by (reporter, destination_service_namespace, destination_service_name, source_workload_namespace, source_workload, source_canonical_service, response_code) ' +
      '(increase(istio_requests_total{reporter=~"waypoint|destination",destination_service_name="reviews",destination_service_namespace="default"}[60s]))',
  );
  t.regex(qs.get('istio_request_duration_milliseconds_bucket')!, /, le\) \(increase\(istio_request_duration_milliseconds_bucket\{/);
  t.regex(qs.get('istio_tcp_sent_bytes_total')!, /\(increase\(istio_tcp_sent_bytes_total\{reporter="destination",/);
  const totals = statQueries({ windowSeconds: 0, from: 'productpage', namespace: 'default' });
  t.is(
    totals[0]!.query.split(') (')[1],
    'istio_requests_total{reporter=~"waypoint|destination",source_canonical_service="productpage",source_workload_namespace="default"})',
  );
});
