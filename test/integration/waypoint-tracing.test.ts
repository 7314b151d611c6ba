/**
 * The waypoint's spans as two real backends receive them: an OTLP/HTTP
 * protobuf receiver in its own process (decoded with protobufjs from the
 * test's .proto, not by the exporter's code) and a Zipkin v2 receiver, both
 * configured at once. Proves the trace shape a retry makes (SERVER span
 * under the caller's span, one CLIENT span per try), that each try's own
 * context reaches the endpoint, that B3-only callers work the same, that an
 * unsampled caller gets no spans, and that a dead backend costs no request
 * and is counted.
 */
import test, { type ExecutionContext } from 'ava';
import { parseDocuments } from '../../core/config/index.js';
import type { TracingSettings } from '../../core/telemetry/settings.js';
import { until } from '../helpers/hbone-harness.js';
import { metricSum } from '../helpers/prometheus-text.js';
import { startOtlpReceiver, startZipkinReceiver, type OtlpReceiver, type OtlpSpan, type ZipkinReceiver } from '../helpers/trace-receivers.js';
import { CALLER, many, resource, startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

const retryOnce = resource('VirtualService', 'reviews', {
  hosts: ['reviews'],
  http: [{ name: 'reviews-route', route: [{ destination: { host: 'reviews' } }], retries: { attempts: 1, retryOn: '5xx' } }],
});

/** Answers 503 to the first try of each request (by x-request-id, the same on every try) and 200 to the next; keeps what each try carried. */
function flaky(): { spec: EndpointSpec; seen: Record<string, string | undefined>[] } {
  const tried = new Set<string>();
  const seen: Record<string, string | undefined>[] = [];
  const spec: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    handler: (req, res) => {
      const h = req.headers as Record<string, string | undefined>;
      seen.push({
        traceparent: h.traceparent,
        b3: h.b3,
        'x-b3-traceid': h['x-b3-traceid'],
        'x-b3-spanid': h['x-b3-spanid'],
        'x-b3-sampled': h['x-b3-sampled'],
      });
      const id = h['x-request-id'] ?? '';
      if (tried.has(id)) return void res.end('ok');
      tried.add(id);
      res.writeHead(503).end('try again');
    },
  };
  return { spec, seen };
}

const settings = (otlp: OtlpReceiver, zipkin: ZipkinReceiver, samplingPercentage = 100): TracingSettings => ({
  providers: [
    { name: 'otel', kind: 'opentelemetry', endpoint: otlp.endpoint, encoding: 'protobuf', timeoutMs: 1000, headers: {} },
    { name: 'zipkin', kind: 'zipkin', endpoint: zipkin.endpoint, timeoutMs: 1000, maxTagLength: 256 },
  ],
  samplingPercentage,
  customTags: {},
});

async function backends(t: ExecutionContext) {
  const [otlp, zipkin] = await Promise.all([startOtlpReceiver(t), startZipkinReceiver(t)]);
  return { otlp, zipkin };
}

/** The SERVER span and its CLIENT spans (in start order) of `traceId` once the OTLP receiver has all three. */
async function otlpTrace(otlp: OtlpReceiver, traceId: string, clients: number): Promise<{ server: OtlpSpan; tries: OtlpSpan[] }> {
  const of = () => otlp.spans.filter((s) => s.traceId === traceId);
  await until(() => of().length >= 1 + clients, 5000);
  const server = of().find((s) => s.kind === 'SPAN_KIND_SERVER')!;
  const tries = of()
    .filter((s) => s.kind === 'SPAN_KIND_CLIENT')
    .sort((a, b) => Number(a.attributes['ambit.attempt']) - Number(b.attributes['ambit.attempt']));
  return { server, tries };
}

function assertRetryTrace(t: ExecutionContext, server: OtlpSpan, tries: OtlpSpan[], parent: string, port: number): void {
  t.truthy(server, 'a SERVER span');
  t.is(server.parentSpanId, parent, "the SERVER span's parent is the caller's span");
  t.is(server.name, `reviews.default.svc.cluster.local:${port}/*`, "Istio's waypoint span name");
  t.is(server.attributes['server.address'], 'reviews');
  t.is(server.attributes['server.port'], 9080, 'from the Host header');
  t.is(server.attributes['http.request.method'], 'GET');
  t.is(server.attributes['url.path'], '/reviews/1');
  t.is(server.attributes['http.response.status_code'], 200);
  t.is(server.attributes['ambit.source_principal'], CALLER);
  t.is(server.attributes['ambit.route_name'], 'reviews-route');
  t.is(server.attributes['ambit.attempts'], 2);
  t.regex(String(server.attributes['guid:x-request-id']), /^[0-9a-f-]{36}$/);
  t.is(server.resource['service.name'], 'ambit-waypoint');
  t.truthy(server.resource['service.instance.id']);
  t.is(tries.length, 2, 'one CLIENT span per try');
  t.deepEqual(
    tries.map((c) => [c.parentSpanId, c.attributes['http.response.status_code'], c.attributes['error.type'], c.status]),
    [
      [server.spanId, 503, '503', 'STATUS_CODE_ERROR'],
      [server.spanId, 200, undefined, 'STATUS_CODE_UNSET'],
    ],
    'the failed try, then the retry, both children of the SERVER span',
  );
  t.truthy(tries[0]!.attributes['ambit.destination_principal']);
}

test('W3C caller, one retry: SERVER span under the caller, two CLIENT tries; the same in OTLP and Zipkin; each try carries itself upstream', async (t) => {
  const { otlp, zipkin } = await backends(t);
  const ep = flaky();
  const h = await startWaypoint(t, [ep.spec], [retryOnce], { tracing: settings(otlp, zipkin, 0) });
  const r = await h.request({ path: '/reviews/1', headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'user-agent': 'tracing-test/1' } });
  t.is(r.status, 200);
  const { server, tries } = await otlpTrace(otlp, TRACE, 2);
  assertRetryTrace(t, server, tries, PARENT, h.port);
  t.is(server.attributes['user_agent.original'], 'tracing-test/1');
  t.deepEqual(
    ep.seen.map((s) => s.traceparent),
    tries.map((c) => `00-${TRACE}-${c.spanId}-01`),
    "each try's traceparent names its own CLIENT span",
  );
  t.true(
    ep.seen.every((s) => s.b3 === undefined && s['x-b3-traceid'] === undefined),
    'no B3 for a W3C-only caller',
  );
  const log = h.accessLog.at(-1)!;
  t.is(log.trace_id, TRACE);
  t.is(log.span_id, server.spanId);

  await until(() => zipkin.spans.filter((s) => s.traceId === TRACE).length >= 3, 5000);
  const z = zipkin.spans.filter((s) => s.traceId === TRACE);
  const zServer = z.find((s) => s.kind === 'SERVER')!;
  t.is(zServer.id, server.spanId);
  t.is(zServer.parentId, PARENT);
  t.is(zServer.localEndpoint?.serviceName, 'ambit-waypoint');
  t.deepEqual(
    z
      .filter((s) => s.kind === 'CLIENT')
      .map((s) => [s.id, s.parentId, s.tags?.['error.type']])
      .sort(),
    [
      [tries[0]!.spanId, server.spanId, '503'],
      [tries[1]!.spanId, server.spanId, undefined],
    ].sort(),
  );
  t.deepEqual(otlp.errors, []);
});

test('B3-only caller (multi-header): the same trace shape, and B3 goes upstream with each try', async (t) => {
  const { otlp, zipkin } = await backends(t);
  const ep = flaky();
  const h = await startWaypoint(t, [ep.spec], [retryOnce], { tracing: settings(otlp, zipkin, 0) });
  const r = await h.request({ path: '/reviews/1', headers: { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' } });
  t.is(r.status, 200);
  const { server, tries } = await otlpTrace(otlp, TRACE, 2);
  assertRetryTrace(t, server, tries, PARENT, h.port);
  t.deepEqual(
    ep.seen.map((s) => [s['x-b3-traceid'], s['x-b3-spanid'], s['x-b3-sampled'], s.traceparent]),
    tries.map((c) => [TRACE, c.spanId, '1', `00-${TRACE}-${c.spanId}-01`]),
    'B3 as the caller sent it, plus W3C',
  );
  await until(() => zipkin.spans.filter((s) => s.traceId === TRACE).length >= 3, 5000);
});

test('an unsampled caller (flags 00) gets no spans at 100 %, and its decision goes upstream', async (t) => {
  const { otlp, zipkin } = await backends(t);
  const ep = flaky();
  const h = await startWaypoint(t, [ep.spec], [retryOnce], { tracing: settings(otlp, zipkin, 100) });
  const r = await h.request({ path: '/reviews/1', headers: { traceparent: `00-${TRACE}-${PARENT}-00` } });
  t.is(r.status, 200);
  t.true(
    ep.seen.every((s) => s.traceparent?.startsWith(`00-${TRACE}-`) && s.traceparent.endsWith('-00') && !s.traceparent.includes(PARENT)),
    'the trace continues unsampled, through this hop',
  );
  // A sampled request after it: once its spans are in, the batch the unsampled one would have been in has gone out too.
  const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  t.is((await h.request({ path: '/reviews/1', headers: { traceparent: `00-${other}-${PARENT}-01` } })).status, 200);
  await otlpTrace(otlp, other, 2);
  await until(() => zipkin.spans.some((s) => s.traceId === other), 5000);
  t.deepEqual(
    otlp.spans.filter((s) => s.traceId === TRACE),
    [],
  );
  t.deepEqual(
    zipkin.spans.filter((s) => s.traceId === TRACE),
    [],
  );
  t.is(h.accessLog[0]!.trace_id, TRACE, 'the access log still names the trace');
});

test('the OTLP receiver killed mid-run: every request still succeeds, Zipkin still gets every span, the drops are counted', async (t) => {
  const { otlp, zipkin } = await backends(t);
  const ok: EndpointSpec = { service: 'reviews', version: 'v1' };
  const h = await startWaypoint(
    t,
    [ok],
    [resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })],
    {
      tracing: settings(otlp, zipkin, 100),
      clientKeepAlive: true,
    },
  );
  const N = 200;
  const statuses = await many(N, 4, async (i) => {
    if (i === 40) {
      // Mid-run: once the receiver has taken some batches, while the other workers keep sending.
      await until(() => otlp.spans.length > 0, 5000);
      await otlp.kill();
    }
    return (await h.request({ path: `/r/${i}` })).status;
  });
  t.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
    'no request failed',
  );
  t.true(otlp.spans.length > 0, 'the receiver got spans before it died');
  await until(() => zipkin.spans.filter((s) => s.kind === 'SERVER').length === N, 8000);
  const dropped = async () => metricSum(await h.waypoint.metrics.registry.metrics(), 'ambit_trace_spans_dropped_total', { provider: 'otel' });
  const end = Date.now() + 8000;
  while ((await dropped()) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  t.true((await dropped()) > 0, 'spans the dead receiver could not take are counted');
  t.is(metricSum(await h.waypoint.metrics.registry.metrics(), 'ambit_trace_spans_dropped_total', { provider: 'zipkin' }), 0, 'none of the live backend');
});

test('the Telemetry API takes over live once a MeshConfig declares a tracing provider; the settings file applies before', async (t) => {
  const { otlp, zipkin } = await backends(t);
  const ok: EndpointSpec = { service: 'reviews', version: 'v1' };
  const vs = resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] });
  // The settings file names only the OTLP receiver.
  const file = { ...settings(otlp, zipkin, 100), providers: settings(otlp, zipkin).providers.slice(0, 1) };
  const h = await startWaypoint(t, [ok], [vs], { tracing: file });
  const traced = async (id: string) => (await h.request({ headers: { traceparent: `00-${id}-${PARENT}-01` } })).status;
  const first = '11111111111111111111111111111111';
  t.is(await traced(first), 200);
  await until(() => otlp.spans.some((s) => s.traceId === first), 5000);

  const zipkinPort = new URL(zipkin.endpoint).port;
  const telemetry = parseDocuments(
    `
apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: {name: default, namespace: istio-system}
spec:
  extensionProviders:
  - name: zipkin
    zipkin: {service: 127.0.0.1, port: ${zipkinPort}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 0
    customTags:
      team: {literal: {value: reviews-team}}
`,
    'telemetry.yaml',
  );
  h.apply([vs, ...telemetry]);
  t.deepEqual(
    h.waypoint.tracer.exports.map((e) => e.provider),
    ['zipkin'],
    'the providers the Telemetry API names, not the settings file',
  );
  const second = '22222222222222222222222222222222';
  t.is(await traced(second), 200, 'a sampled caller is traced at 0 %');
  await until(() => zipkin.spans.some((s) => s.traceId === second && s.kind === 'SERVER'), 5000);
  t.is(zipkin.spans.find((s) => s.traceId === second && s.kind === 'SERVER')?.tags?.team, 'reviews-team');
  t.false(
    otlp.spans.some((s) => s.traceId === second),
    'the settings file no longer applies',
  );

  h.apply([
    vs,
    ...telemetry.slice(0, 1),
    ...parseDocuments(
      'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: mesh-default, namespace: istio-system}\nspec:\n  tracing:\n  - disableSpanReporting: true\n',
      'off.yaml',
    ),
  ]);
  t.false(h.waypoint.tracer.enabled, "the Telemetry API's off is off, though the settings file names a provider");
  t.is(await traced('33333333333333333333333333333333'), 200);
  t.is(h.accessLog.at(-1)?.trace_id, undefined, 'tracing off: no trace id in the access log');
});
