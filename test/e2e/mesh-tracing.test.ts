/**
 * One trace across the mesh, end to end (issue 14): netns hosts a (an enrolled
 * client), b (reviews, which fails the first try of each request), c (the
 * reviews waypoint and an OTLP/HTTP receiver in its own process, decoding
 * protobuf with the test's .proto). Tracing is configured as an operator does
 * it, by a MeshConfig provider and a Telemetry resource; the client's request
 * carries a traceparent. Under that trace: the waypoint's SERVER span (parent:
 * the client's span), a CLIENT span per try (the failed one and the retry), and
 * under the retry, which opens a connection of its own, the destination
 * daemon's tunnel span on b; a Zipkin v2 receiver on c gets the same spans at
 * the same time, and a B3-only caller gets the same shape.
 */
import test from 'ava';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { sumBy } from '../helpers/prometheus-text.js';
import { startOtlpReceiver, startZipkinReceiver, type OtlpReceiver, type OtlpSpan, type ZipkinReceiver } from '../helpers/trace-receivers.js';

const CLIENT_UID = 2301;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080/';

let mesh: Mesh;

/** 503 (and a closed connection, so the retry opens a tunnel of its own) to the first try of each x-request-id; 200 to the next. */
const FLAKY = (address: string) => `
const tried = new Set();
require('http').createServer((q, s) => {
  const id = q.headers['x-request-id'];
  if (!tried.has(id)) { tried.add(id); s.writeHead(503, { connection: 'close' }).end('try again'); return; }
  s.end('reviews-ok');
}).listen(9080, ${JSON.stringify(address)}, () => console.log('listening'));`;

const telemetry = (otlp: URL, zipkin: URL) => `apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: {name: default, namespace: istio-system}
spec:
  extensionProviders:
  - name: otel
    opentelemetry: {service: ${otlp.hostname}, port: ${otlp.port}, http: {path: /v1/traces, timeout: 2s}}
  - name: zipkin
    zipkin: {service: ${zipkin.hostname}, port: ${zipkin.port}}
  defaultProviders: {tracing: [otel, zipkin]}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{randomSamplingPercentage: 100}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}], retries: {attempts: 1, retryOn: 5xx}}]
`;

let otlp: OtlpReceiver;
let zipkin: ZipkinReceiver;
/** ava allows no t.teardown in hooks: what the receiver registers runs in after.always. */
const teardowns: Array<() => unknown> = [];

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
  const c = mesh.topo.host('c').address;
  const onC = { host: c, spawn: (cmd: string, args: string[]) => mesh.topo.spawn('c', cmd, args) };
  otlp = await startOtlpReceiver({ teardown: (fn) => void teardowns.push(fn) }, onC);
  zipkin = await startZipkinReceiver({ teardown: (fn) => void teardowns.push(fn) }, onC);
  await waitForOutput(mesh.topo.spawn('b', process.execPath, ['-e', FLAKY(mesh.topo.host('b').address)]), /listening/);
  await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'app=reviews']);
  await mesh.enroll('a', ['productpage', '--port', '9000', '--user', String(CLIENT_UID)]);
  const attach = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'c']);
  if (attach.code !== 0) throw new Error(`waypoint attach: ${attach.stderr}`);
  const applied = await mesh.ambit('store', ['apply', '-f', '-'], telemetry(new URL(otlp.endpoint), new URL(zipkin.endpoint)));
  if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  // The waypoint retries (its VirtualService is in), so a plain request succeeds.
  await eventually(async () => (await curl()).stdout === 'reviews-ok', 30_000);
});

test.after.always(async () => {
  for (const fn of teardowns) await fn();
  await mesh?.destroy();
});

async function apply(yaml: string): Promise<void> {
  const r = await mesh.ambit('store', ['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
}

function curl(headers: string[] = []) {
  return mesh.asUser('a', CLIENT_UID, 'curl', ['-sS', '--max-time', '5', ...headers.flatMap((h) => ['-H', h]), REVIEWS]);
}

test.serial("one trace: the waypoint's SERVER span under the client's, a CLIENT span per try, and b's tunnel span under the retry", async (t) => {
  const r = await curl([`traceparent: 00-${TRACE}-${PARENT}-01`]);
  t.is(r.stdout, 'reviews-ok', r.stderr);
  const ofTrace = (): OtlpSpan[] => otlp.spans.filter((s) => s.traceId === TRACE);
  let server: OtlpSpan | undefined;
  let tries: OtlpSpan[] = [];
  let tunnels: OtlpSpan[] = [];
  await eventually(async () => {
    const spans = ofTrace();
    server = spans.find((s) => s.kind === 'SPAN_KIND_SERVER' && s.resource['service.name'] === 'ambit-waypoint');
    tries = spans.filter((s) => s.kind === 'SPAN_KIND_CLIENT' && s.parentSpanId === server?.spanId);
    tunnels = spans.filter((s) => s.name === 'ambitd inbound tunnel');
    return server !== undefined && tries.length === 2 && tunnels.length >= 1;
  }, 20_000).catch(() => undefined);
  t.log(ofTrace().map((s) => `${String(s.resource['service.name'])} ${s.kind} ${s.name} ${s.spanId} <- ${s.parentSpanId}`));
  t.truthy(server, 'the waypoint SERVER span is in the trace');
  t.is(server?.parentSpanId, PARENT, "its parent is the client's span");
  t.is(tries.length, 2, 'the failed try and the retry');
  const retry = tries.find((s) => Number(s.attributes['http.response.status_code']) === 200);
  const failed = tries.find((s) => Number(s.attributes['http.response.status_code']) === 503);
  t.truthy(failed, 'the first try failed with 503');
  t.truthy(retry, 'the retry got 200');
  // The 503 closed its connection, so the retry opened a tunnel of its own, carrying its context; the first
  // try may have reused a pooled connection (a tunnel an earlier request opened, spanned in that request's trace).
  t.true(
    tunnels.some((s) => s.parentSpanId === retry?.spanId),
    "b's daemon spans the retry's tunnel under the retry",
  );
  for (const tunnel of tunnels)
    t.true(
      tries.some((s) => s.spanId === tunnel.parentSpanId),
      'every tunnel span of the trace is under one of its tries',
    );
  for (const tunnel of tunnels) {
    t.is(tunnel.resource['service.name'], 'ambitd');
    t.is(tunnel.attributes['ambit.source_principal'], 'spiffe://cluster.local/ns/default/sa/reviews-waypoint');
    t.is(tunnel.attributes['ambit.destination_principal'], 'spiffe://cluster.local/ns/default/sa/reviews');
  }
  t.deepEqual(otlp.errors, []);
  // The same spans reached the Zipkin receiver at the same time, under the same ids.
  await eventually(async () => zipkin.spans.filter((s) => s.traceId === TRACE).length >= 4, 15_000).catch(() => undefined);
  const viaZipkin = zipkin.spans.filter((s) => s.traceId === TRACE);
  t.truthy(
    viaZipkin.find((s) => s.id === server?.spanId && s.parentId === PARENT),
    'Zipkin has the waypoint SERVER span under the client span',
  );
  t.truthy(
    viaZipkin.find((s) => s.name === 'ambitd inbound tunnel' && s.parentId === retry?.spanId),
    "Zipkin has b's tunnel span under the retry",
  );
});

test.serial('a B3-only caller gets the same trace shape: the waypoint joins its trace and the tunnel span follows', async (t) => {
  const trace = 'a3ce929d0e0e47364bf92f3577b34da6';
  const parent = '0020000000000001';
  const r = await curl([`x-b3-traceid: ${trace}`, `x-b3-spanid: ${parent}`, 'x-b3-sampled: 1']);
  t.is(r.stdout, 'reviews-ok', r.stderr);
  await eventually(async () => otlp.spans.some((s) => s.traceId === trace && s.name === 'ambitd inbound tunnel'), 20_000).catch(() => undefined);
  const spans = otlp.spans.filter((s) => s.traceId === trace);
  const server = spans.find((s) => s.kind === 'SPAN_KIND_SERVER' && s.resource['service.name'] === 'ambit-waypoint');
  t.is(server?.parentSpanId, parent, "the waypoint SERVER span is the B3 caller's child");
  const tries = spans.filter((s) => s.kind === 'SPAN_KIND_CLIENT' && s.parentSpanId === server?.spanId);
  t.is(tries.length, 2);
  t.true(
    spans.some((s) => s.name === 'ambitd inbound tunnel' && tries.some((c) => c.spanId === s.parentSpanId)),
    "b's tunnel span is under one of the tries",
  );
});

test.serial("a's daemon spans the client's captured connection too, as the root of a trace of its own", async (t) => {
  await eventually(async () => otlp.spans.some((s) => s.name === 'ambitd outbound tunnel' && s.kind === 'SPAN_KIND_CLIENT'), 15_000);
  const outbound = otlp.spans.find((s) => s.name === 'ambitd outbound tunnel')!;
  t.is(outbound.attributes['ambit.source_principal'], 'spiffe://cluster.local/ns/default/sa/productpage');
  t.is(outbound.parentSpanId, undefined, 'an application TCP connection carries no context ambitd could read');
  t.is(outbound.kind, 'SPAN_KIND_CLIENT');
  t.truthy(outbound.attributes['server.address'], 'the authority it tunnelled to');
});

/** The waypoint's SERVER spans so far (one per traced request), as the OTLP receiver got them. */
const waypointServerSpans = (): number => otlp.spans.filter((s) => s.kind === 'SPAN_KIND_SERVER' && s.resource['service.name'] === 'ambit-waypoint').length;
/** reviews' access-log lines so far (the waypoint logs through c's daemon). */
const accessLines = (): number =>
  mesh
    .logs('c')
    .split('\n')
    .filter((l) => l.includes('"msg":"access"')).length;

test.serial("Telemetry changes apply live: one namespace's sampling, one workload's access log", async (t) => {
  const untraced = async (n: number) => {
    for (let i = 0; i < n; i++) t.is((await curl()).stdout, 'reviews-ok');
  };
  const namespaceSampling = (percent: number) => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: default-ns, namespace: default}
spec:
  tracing: [{randomSamplingPercentage: ${percent}}]
`;
  // The mesh samples 100 %; the default namespace says 0 %: new requests start no trace.
  await apply(namespaceSampling(0));
  await eventually(async () => {
    const before = waypointServerSpans();
    await untraced(3);
    await new Promise((r) => setTimeout(r, 6000));
    return waypointServerSpans() === before;
  }, 40_000);
  // 100 % for the namespace again: every new request is traced, no restart in between.
  await apply(namespaceSampling(100));
  await eventually(async () => {
    const before = waypointServerSpans();
    await untraced(3);
    return eventually(async () => waypointServerSpans() >= before + 3, 8000).then(
      () => true,
      () => false,
    );
  }, 40_000);
  // reviews' access log off, by a Telemetry that targets the service (its waypoint).
  const logOff = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews-no-log, namespace: default}
spec:
  targetRefs: [{kind: Service, name: reviews}]
  accessLogging: [{disabled: true}]
`;
  await apply(logOff);
  await eventually(async () => {
    const before = accessLines();
    await untraced(3);
    await new Promise((r) => setTimeout(r, 500));
    return accessLines() === before;
  }, 20_000);
  const r = await mesh.ambit('store', ['delete', 'telemetry', 'reviews-no-log']);
  t.is(r.code, 0, r.stderr);
  await eventually(async () => {
    const before = accessLines();
    await untraced(2);
    await new Promise((r2) => setTimeout(r2, 500));
    return accessLines() >= before + 2;
  }, 20_000);
  t.is((await mesh.ambit('store', ['delete', 'telemetry', 'default-ns'])).code, 0);
});

test.serial('the OTLP receiver killed mid-run: no request fails, Zipkin still gets the spans, the drops are counted', async (t) => {
  await otlp.kill();
  const zipkinBefore = zipkin.spans.length;
  for (let i = 0; i < 20; i++) {
    const r = await curl([`traceparent: 00-${(i + 1).toString(16).padStart(32, '7')}-${PARENT}-01`]);
    t.is(r.stdout, 'reviews-ok', `request ${i}: ${r.stderr}`);
  }
  await eventually(async () => zipkin.spans.length >= zipkinBefore + 20, 20_000);
  await eventually(async () => {
    const text = await mesh.admin('c', '/metrics', 15021);
    return [...sumBy(text, 'ambit_trace_spans_dropped_total', [], { provider: 'otel' }).values()].reduce((n, v) => n + v, 0) > 0;
  }, 30_000);
  t.pass();
});
