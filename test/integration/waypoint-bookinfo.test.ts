/**
 * The waypoint end to end on loopback with Istio's unmodified Bookinfo
 * configs: HBONE in (caller identity verified by TLS), routing, HBONE out to
 * the chosen version's endpoint through a peer daemon.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadFiles } from '../../core/config/index.js';
import { CALLER, many, startWaypoint, WAYPOINT, type EndpointSpec } from '../helpers/waypoint-harness.js';
import { metricSum } from '../helpers/prometheus-text.js';
import { bookinfoEdge } from '../helpers/istio-edge.js';

const BOOKINFO = path.resolve(process.cwd(), '../shared/fixtures/istio/bookinfo');
const REVIEWS: EndpointSpec[] = ['v1', 'v2', 'v3'].map((version) => ({ service: 'reviews', version }));
const RATINGS: EndpointSpec[] = [{ service: 'ratings', version: 'v1' }];
const bookinfo = (...files: string[]) => loadFiles(files.map((f) => path.join(BOOKINFO, f)));

if (!existsSync(BOOKINFO)) {
  test.skip(`waypoint Bookinfo: ${BOOKINFO} is absent`, (t) => {
    t.log(`SKIPPED: ${BOOKINFO} not found; run from a checkout next to ../shared`);
  });
} else {
  test('reviews-jason-v2-v3: jason reaches v2 and everyone else v3, over HTTP/1.1 and h2c', async (t) => {
    const h = await startWaypoint(t, REVIEWS, await bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-jason-v2-v3.yaml'));
    t.is((await h.request({ headers: { 'end-user': 'jason' } })).body, 'reviews-v2');
    t.is((await h.request({ headers: { 'end-user': 'mark' } })).body, 'reviews-v3');
    t.is((await h.request()).body, 'reviews-v3');
    const h2 = await h.request({ h2: true, headers: { 'end-user': 'jason' } });
    t.is(h2.status, 200);
    t.is(h2.body, 'reviews-v2');
    t.is((await h.request({ h2: true })).body, 'reviews-v3');
  });

  test('the access log and istio_requests_total carry the verified caller and the chosen version', async (t) => {
    const h = await startWaypoint(t, REVIEWS, await bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-jason-v2-v3.yaml'));
    await h.request({ headers: { 'end-user': 'jason' } });
    const entry = h.accessLog.at(-1)!;
    t.like(entry, { source_principal: CALLER, response_code: 200, response_flags: '-', attempts: 1, destination_service: 'reviews.default.svc.cluster.local' });
    t.regex(entry.upstream_cluster ?? '', /^outbound\|\d+\|v2\|reviews\.default\.svc\.cluster\.local$/);
    const text = await h.waypoint.metrics.registry.metrics();
    const edge = { ...bookinfoEdge('waypoint', CALLER), request_protocol: 'http', response_code: '200', grpc_response_status: '' };
    t.is(metricSum(text, 'istio_requests_total', edge), 1, text);
    t.is(metricSum(text, 'istio_request_duration_milliseconds_count', edge), 1);
    t.is(metricSum(text, 'istio_request_bytes_count', edge), 1);
    t.is(metricSum(text, 'istio_response_bytes_sum', edge), 'reviews-v2'.length, 'the body the endpoint sent');
    // 'reviews-v2' is 10 bytes: in the le="10" bucket (Istio's powers of ten), not in le="1".
    t.is(metricSum(text, 'istio_response_bytes_bucket', { ...edge, le: '1' }), 0);
    t.is(metricSum(text, 'istio_response_bytes_bucket', { ...edge, le: '10' }), 1);
    t.truthy(WAYPOINT);
  });

  test('istio_request_bytes counts request bodies, buffered for retries (content-length) or streamed (chunked, h2)', async (t) => {
    const h = await startWaypoint(t, REVIEWS, await bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-v3.yaml'));
    const body = 'x'.repeat(1500);
    t.is((await h.request({ method: 'POST', body, headers: { 'content-length': String(body.length) } })).status, 200);
    t.is((await h.request({ method: 'POST', body })).status, 200);
    t.is((await h.request({ method: 'POST', body, h2: true })).status, 200);
    const text = await h.waypoint.metrics.registry.metrics();
    const edge = { destination_workload: 'reviews-v3', response_code: '200' };
    t.is(metricSum(text, 'istio_request_bytes_count', edge), 3);
    t.is(metricSum(text, 'istio_request_bytes_sum', edge), 3 * 1500);
    t.is(metricSum(text, 'istio_request_bytes_bucket', { ...edge, le: '1000' }), 0);
    t.is(metricSum(text, 'istio_request_bytes_bucket', { ...edge, le: '10000' }), 3);
  });

  test('reviews-80-20: 2,000 requests split 80±3% v1 / 20±3% v2', async (t) => {
    const h = await startWaypoint(t, REVIEWS, await bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-80-20.yaml'));
    const replies = await many(2000, 50, () => h.request());
    t.true(replies.every((r) => r.status === 200));
    const v1 = (100 * replies.filter((r) => r.body === 'reviews-v1').length) / replies.length;
    const v2 = (100 * replies.filter((r) => r.body === 'reviews-v2').length) / replies.length;
    t.log(`v1 ${v1.toFixed(1)}% v2 ${v2.toFixed(1)}%`);
    t.true(Math.abs(v1 - 80) <= 3, `v1 ${v1}%`);
    t.true(Math.abs(v2 - 20) <= 3, `v2 ${v2}%`);
  });

  test('ratings-test-abort: jason gets the injected 500, others reach ratings', async (t) => {
    const h = await startWaypoint(t, [...REVIEWS, ...RATINGS], await bookinfo('destination-rule-all.yaml', 'virtual-service-ratings-test-abort.yaml'));
    const jason = await h.request({ service: 'ratings', headers: { 'end-user': 'jason' } });
    t.is(jason.status, 500);
    t.is(jason.body, 'fault filter abort');
    t.is(h.accessLog.at(-1)?.response_flags, 'FI');
    t.is(h.hits.get('ratings-v1'), undefined);
    const other = await h.request({ service: 'ratings', headers: { 'end-user': 'mark' } });
    t.is(other.status, 200);
    t.is(other.body, 'ratings-v1');
  });
}
