/**
 * Istio's Telemetry API in a running waypoint: resources applied as YAML (the
 * same validation `ambit apply` runs) change access logging live, per served
 * service and per namespace, with no restart.
 */
import test from 'ava';
import { parseDocuments, type Resource } from '../../core/config/index.js';
import { eventually } from '../helpers/eventually.js';
import { startWaypoint, type WaypointHarness } from '../helpers/waypoint-harness.js';

const yaml = (text: string): Resource[] => parseDocuments(text, 'telemetry.yaml');

const FAILING = {
  service: 'ratings',
  version: 'v1',
  handler: (req: { url?: string }, res: { statusCode: number; end(b: string): void }) => {
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('ratings-v1');
  },
};

/** `service path code` of each access-log line `send` caused; a last request that fails (logged under every filter here) marks the end. */
async function loggedAfter(h: WaypointHarness, send: () => Promise<unknown>): Promise<string[]> {
  const before = h.accessLog.length;
  await send();
  await h.request({ service: 'ratings', path: '/fail' });
  await eventually(async () => h.accessLog.slice(before).some((e) => e.response_code === 503), 5000);
  return h.accessLog
    .slice(before)
    .filter((e) => e.path !== '/fail')
    .map((e) => `${e.destination_service.split('.')[0]} ${e.path} ${e.response_code}`);
}

test('access logs: off for one service by targetRefs, then filtered namespace-wide, live', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }, FAILING], []);
  const both = async () => {
    await h.request({ service: 'reviews', path: '/a' });
    await h.request({ service: 'ratings', path: '/b' });
  };
  t.deepEqual(await loggedAfter(h, both), ['reviews /a 200', 'ratings /b 200'], 'no Telemetry: every request is logged');

  const quietReviews = yaml(`
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-quiet, namespace: default}
spec:
  targetRefs:
  - kind: Service
    group: ""
    name: reviews
  accessLogging:
  - disabled: true
`);
  h.apply(quietReviews);
  t.deepEqual(await loggedAfter(h, both), ['ratings /b 200'], 'reviews is no longer logged; ratings still is');

  const errorsOnly = yaml(`
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: {name: errors-only, namespace: default}
spec:
  accessLogging:
  - filter:
      expression: response.code >= 400
`);
  h.apply([...quietReviews, ...errorsOnly]);
  t.deepEqual(await loggedAfter(h, both), [], 'namespace filter: 200s are not logged anywhere, reviews stays off');

  h.apply([]);
  t.deepEqual(await loggedAfter(h, both), ['reviews /a 200', 'ratings /b 200'], 'resources deleted: back to logging everything');
});

test('a MeshConfig whose default access-log providers are empty turns logs off until a Telemetry names one', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }, FAILING], []);
  const mesh = yaml(`
apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: {name: default, namespace: istio-system}
spec:
  defaultProviders:
    accessLogging: []
`);
  h.apply(mesh);
  const before = h.accessLog.length;
  await h.request({ service: 'reviews', path: '/a' });
  await h.request({ service: 'ratings', path: '/fail' });
  // Nothing is logged, so wait on the request count the metrics saw instead.
  await eventually(async () => (await h.waypoint.metrics.registry.metrics()).includes('response_code="503"'), 5000);
  t.is(h.accessLog.length, before);

  h.apply([
    ...mesh,
    ...yaml(`
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: logs-on, namespace: default}
spec:
  accessLogging:
  - providers: [{name: envoy}]
`),
  ]);
  t.deepEqual(await loggedAfter(h, () => h.request({ service: 'reviews', path: '/a' })), ['reviews /a 200']);
});

test('metric overrides, live: a metric disabled, a label removed, a label set from a header', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1' }], []);
  h.apply(
    yaml(`
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: metrics, namespace: default}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_DURATION}
      disabled: true
    - match: {metric: REQUEST_COUNT}
      tagOverrides:
        request_protocol: {operation: REMOVE}
        destination_version: {value: "request.headers['x-canary']"}
`),
  );
  await h.request({ service: 'reviews', headers: { 'x-canary': 'blue' } });
  await eventually(async () => (await h.waypoint.metrics.registry.metrics()).includes('destination_version="blue"'), 5000);
  const text = await h.waypoint.metrics.registry.metrics();
  const count = text.split('\n').find((l) => l.startsWith('istio_requests_total{'))!;
  t.regex(count, /request_protocol=""/);
  t.regex(count, /destination_version="blue"/);
  t.false(/^istio_request_duration_milliseconds_count\{/m.test(text), 'REQUEST_DURATION is disabled');
  t.regex(text, /^istio_request_bytes_count\{[^}]*destination_version="v1"/m, 'other metrics keep their labels');
});
