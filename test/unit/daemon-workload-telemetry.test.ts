/**
 * The Telemetry API's metric overrides and access logging for ambitd's TCP
 * connections: Istio's TCP metric names, disable and REMOVE/UPSERT per metric,
 * the TCP attributes an expression sees, resolved per workload from a mesh
 * state and compiled once per snapshot.
 */
import test from 'ava';
import type { Resource } from '../../core/config/resource.js';
import { tcpLabels, type TcpLabels } from '../../core/telemetry/labels.js';
import { tcpAttributes, tcpSeries } from '../../core/telemetry/tcp-series.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { nodeTelemetryProblems, workloadTelemetry } from '../../daemon/workload-telemetry.js';
import { metricSum } from '../helpers/prometheus-text.js';
import { endpoint, state } from './support/daemon-fixtures.js';

const reviews = endpoint({ service: 'reviews', node: 'a', address: '10.0.0.1', port: 9080, labels: { app: 'reviews', version: 'v2' } });
const ratings = endpoint({ service: 'ratings', node: 'a', address: '10.0.0.1', port: 9090, labels: { app: 'ratings' } });

const telemetry = (name: string, spec: Record<string, unknown>, namespace = 'default'): Resource => ({
  apiVersion: 'telemetry.istio.io/v1',
  kind: 'Telemetry',
  metadata: { name, namespace },
  spec,
});

const labels: TcpLabels = tcpLabels({
  reporter: 'destination',
  source: { principal: 'spiffe://cluster.local/ns/default/sa/productpage' },
  destination: { principal: 'spiffe://cluster.local/ns/default/sa/reviews', workload: reviews },
  service: { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' },
  securityPolicy: 'mutual_tls',
});

const forReviews = (spec: Record<string, unknown>) =>
  workloadTelemetry(state([reviews, ratings], [telemetry('reviews', { selector: { matchLabels: { app: 'reviews' } }, ...spec })]), reviews);

test('no Telemetry: every TCP metric counts the labels as built, the very object', (t) => {
  const series = tcpSeries(labels, workloadTelemetry(state([reviews]), reviews), tcpAttributes(true));
  t.is(series.TCP_OPENED_CONNECTIONS, labels);
  t.is(series.TCP_CLOSED_CONNECTIONS, labels);
  t.is(series.TCP_SENT_BYTES, labels);
  t.is(series.TCP_RECEIVED_BYTES, labels);
});

test("Istio's TCP metric names: one disabled, the others untouched", (t) => {
  const series = tcpSeries(labels, forReviews({ metrics: [{ overrides: [{ match: { metric: 'TCP_SENT_BYTES' }, disabled: true }] }] }), tcpAttributes(true));
  t.is(series.TCP_SENT_BYTES, undefined);
  t.is(series.TCP_RECEIVED_BYTES, labels);
  t.is(series.TCP_OPENED_CONNECTIONS, labels);
  t.is(series.TCP_CLOSED_CONNECTIONS, labels);
});

test("a later override that leaves disabled unset keeps an earlier one's disable (Istio's BoolValue)", (t) => {
  const compiled = forReviews({
    metrics: [
      {
        overrides: [
          { match: { metric: 'TCP_SENT_BYTES' }, disabled: true },
          { match: { metric: 'ALL_METRICS' }, tagOverrides: { source_principal: { operation: 'REMOVE' } } },
        ],
      },
    ],
  });
  const series = tcpSeries(labels, compiled, tcpAttributes(true));
  t.is(series.TCP_SENT_BYTES, undefined);
  t.like(series.TCP_RECEIVED_BYTES, { source_principal: '' });
  t.false(compiled.metric('TCP_OPENED_CONNECTIONS').disabled);
});

test('REMOVE empties a label and UPSERT sets one from the expression subset; opened and closed get equal series', (t) => {
  const compiled = forReviews({
    metrics: [
      {
        overrides: [
          { match: { metric: 'ALL_METRICS' }, tagOverrides: { source_principal: { operation: 'REMOVE' } } },
          { match: { metric: 'TCP_OPENED_CONNECTIONS' }, tagOverrides: { destination_version: { value: 'connection.mtls' } } },
          { match: { metric: 'TCP_CLOSED_CONNECTIONS' }, tagOverrides: { destination_version: { value: 'connection.mtls' } } },
          { match: { metric: 'TCP_RECEIVED_BYTES' }, tagOverrides: { response_flags: { value: 'request.path' } } },
        ],
      },
    ],
  });
  const series = tcpSeries(labels, compiled, tcpAttributes(true));
  t.like(series.TCP_OPENED_CONNECTIONS, { source_principal: '', destination_version: 'true', destination_workload: 'reviews-v2' });
  t.deepEqual(series.TCP_OPENED_CONNECTIONS, series.TCP_CLOSED_CONNECTIONS);
  t.like(series.TCP_SENT_BYTES, { source_principal: '', destination_version: 'v2' });
  t.like(series.TCP_RECEIVED_BYTES, { response_flags: 'unknown' }, 'a request attribute is absent on a TCP connection');
  t.like(tcpSeries(labels, compiled, tcpAttributes(false)).TCP_OPENED_CONNECTIONS, { destination_version: 'false' });
  t.like(labels, { source_principal: 'spiffe://cluster.local/ns/default/sa/productpage' }, 'the built labels are left alone');
});

test('resolved per workload: a selector for reviews leaves ratings alone; a tag the metrics lack is a problem', (t) => {
  const s = state(
    [reviews, ratings],
    [
      telemetry('reviews', {
        selector: { matchLabels: { app: 'reviews' } },
        accessLogging: [{ disabled: true }],
        metrics: [{ overrides: [{ match: { metric: 'TCP_OPENED_CONNECTIONS' }, disabled: true, tagOverrides: { team: { value: "'books'" } } }] }],
      }),
    ],
  );
  t.true(workloadTelemetry(s, reviews).metric('TCP_OPENED_CONNECTIONS').disabled);
  t.false(workloadTelemetry(s, reviews).logs(() => tcpAttributes(true)));
  t.false(workloadTelemetry(s, ratings).metric('TCP_OPENED_CONNECTIONS').disabled);
  t.true(workloadTelemetry(s, ratings).logs(() => tcpAttributes(true)));
  t.is(workloadTelemetry(s, reviews), workloadTelemetry(s, { ...reviews }), 'compiled once per workload per snapshot');
  t.not(workloadTelemetry(state([reviews]), reviews), workloadTelemetry(s, reviews), 'a new snapshot compiles anew');
  t.deepEqual(nodeTelemetryProblems(s), [
    "tagOverrides team: not one of Istio's standard labels, which are all ambit's istio_* metrics carry; the override is ignored",
  ]);
});

test('access-log filter on TCP: connection.mtls decides; a request or response attribute compares false', (t) => {
  const filtered = (expression: string) => forReviews({ accessLogging: [{ filter: { expression } }] });
  t.true(filtered('connection.mtls').logs(() => tcpAttributes(true)));
  t.false(filtered('connection.mtls').logs(() => tcpAttributes(false)));
  t.true(filtered('!connection.mtls').logs(() => tcpAttributes(false)));
  t.false(filtered('response.code >= 400').logs(() => tcpAttributes(true)));
  t.true(
    filtered("request.method != 'GET'").logs(() => tcpAttributes(true)),
    'CEL: an absent attribute is not equal',
  );
});

test("Istio's byte directions for either reporter: received is the request's (toward the destination), sent the response's", async (t) => {
  const metrics = new DaemonMetrics();
  const series = tcpSeries(labels, undefined, tcpAttributes(true));
  metrics.tcpOpened(series);
  metrics.tcpClosed(series, 3, 500);
  const text = await metrics.registry.metrics();
  t.is(metricSum(text, 'istio_tcp_received_bytes_total'), 3);
  t.is(metricSum(text, 'istio_tcp_sent_bytes_total'), 500);
  t.is(metricSum(text, 'istio_tcp_connections_opened_total') - metricSum(text, 'istio_tcp_connections_closed_total'), 0);
});
