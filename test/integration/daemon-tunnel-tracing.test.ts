/**
 * ambitd's tunnel spans as a real OTLP/HTTP receiver (its own process,
 * decoding protobuf with the test's .proto) gets them: ambitd's real inbound
 * (createInbound) behind a real HboneClient, with tracing configured the way
 * an operator does it, by a MeshConfig provider and a Telemetry resource in
 * the mesh state. The span joins the trace the CONNECT carried (what a
 * waypoint's try or a sending daemon puts there) and says who, what and how
 * much; a denied tunnel is an error span naming the policy; no provider, no span.
 */
import test from 'ava';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import pino from 'pino';
import { HboneClient } from '../../core/hbone/index.js';
import type { Resource } from '../../core/config/resource.js';
import type { MeshState } from '../../core/mesh/index.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { TunnelTracing } from '../../daemon/tunnel-tracing.js';
import { until } from '../helpers/hbone-harness.js';
import { metricSum } from '../helpers/prometheus-text.js';
import { startInbound } from '../helpers/inbound-daemon.js';
import { makeTestCa, workload } from '../helpers/test-pki.js';
import { startOtlpReceiver } from '../helpers/trace-receivers.js';
import { endpoint, resource, state as meshState } from '../unit/support/daemon-fixtures.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const CLIENT = workload('default', 'productpage');

function telemetry(otlpPort: number): Resource[] {
  return [
    {
      apiVersion: 'ambit.dev/v1alpha1',
      kind: 'MeshConfig',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: {
        extensionProviders: [{ name: 'otel', opentelemetry: { service: '127.0.0.1', port: otlpPort, http: { path: '/v1/traces', timeout: '2s' } } }],
        defaultProviders: { tracing: ['otel'] },
      },
    },
    {
      apiVersion: 'telemetry.istio.io/v1',
      kind: 'Telemetry',
      metadata: { name: 'mesh-default', namespace: 'istio-system' },
      spec: { tracing: [{ randomSamplingPercentage: 100 }] },
    },
  ];
}

const denyRatings = resource('AuthorizationPolicy', 'deny-ratings', {
  action: 'DENY',
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/ratings'] } }] }],
});

async function echo(): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function harness(t: import('ava').ExecutionContext, resources: (upstreamPort: number) => Resource[]) {
  const pki = await makeTestCa();
  const upstream = await echo();
  t.teardown(() => upstream.close());
  const port = (upstream.address() as AddressInfo).port;
  const ep = endpoint({ service: 'reviews', node: 'a', address: '127.0.0.1', port });
  const state: MeshState = meshState([ep], resources(port), { hbonePort: 0 });
  const metrics = new DaemonMetrics();
  const log = pino({ level: 'silent' });
  const tracing = new TunnelTracing(metrics, log);
  tracing.update(state);
  const hbonePort = await startInbound(t, pki, { state: () => state, metrics, tracing, log });
  const identities = new Map([
    [CLIENT, await pki.issue(CLIENT)],
    [workload('default', 'ratings'), await pki.issue(workload('default', 'ratings'))],
  ]);
  const client = new HboneClient({ getSecureContext: (source) => identities.get(source)! });
  t.teardown(async () => {
    client.close();
    await tracing.shutdown();
  });
  const connect = (source: string, headers: Record<string, string> = {}) =>
    client.connect({ peer: { host: '127.0.0.1', port: hbonePort }, authority: `127.0.0.1:${port}`, source, headers });
  return { connect, tracing, metrics, port };
}

test('the receiving daemon spans each tunnel under the context its CONNECT carried, with identities and bytes', async (t) => {
  const otlp = await startOtlpReceiver(t);
  const h = await harness(t, () => telemetry(Number(new URL(otlp.endpoint).port)));
  t.true(h.tracing.enabled, 'a MeshConfig provider and a Telemetry resource turn tracing on');
  const stream = await h.connect(CLIENT, { traceparent: `00-${TRACE}-${PARENT}-01` });
  stream.end('hello through the tunnel');
  let echoed = '';
  for await (const chunk of stream) echoed += String(chunk);
  t.is(echoed, 'hello through the tunnel');
  await until(() => otlp.spans.length >= 1, 10_000);
  const span = otlp.spans[0]!;
  t.is(span.traceId, TRACE, 'the same trace as the CONNECT');
  t.is(span.parentSpanId, PARENT, "a child of the caller's span (a waypoint try, or the sending daemon)");
  t.is(span.name, 'ambitd inbound tunnel');
  t.is(span.kind, 'SPAN_KIND_SERVER');
  t.is(span.resource['service.name'], 'ambitd');
  t.is(span.attributes['ambit.source_principal'], CLIENT);
  t.is(span.attributes['ambit.destination_principal'], workload('default', 'reviews'));
  t.is(span.attributes['ambit.authz.decision'], 'allow');
  t.is(Number(span.attributes['ambit.bytes_to_destination']), 'hello through the tunnel'.length);
  t.is(Number(span.attributes['ambit.bytes_from_destination']), 'hello through the tunnel'.length);
  t.not(span.status, 'STATUS_CODE_ERROR');
});

test('a denied tunnel is an error span naming the policy; an unsampled CONNECT gets no span', async (t) => {
  const otlp = await startOtlpReceiver(t);
  const h = await harness(t, () => [...telemetry(Number(new URL(otlp.endpoint).port)), denyRatings]);
  await t.throwsAsync(h.connect(workload('default', 'ratings'), { traceparent: `00-${TRACE}-${PARENT}-01` }));
  await until(() => otlp.spans.length >= 1, 10_000);
  const denied = otlp.spans[0]!;
  t.is(denied.status, 'STATUS_CODE_ERROR');
  t.is(denied.attributes['error.type'], 'authz_denied');
  t.is(denied.attributes['ambit.authz.policy'], 'default/deny-ratings');
  const quiet = await h.connect(CLIENT, { traceparent: `00-${'1'.repeat(32)}-${PARENT}-00` });
  quiet.end();
  for await (const _ of quiet);
  await new Promise((r) => setTimeout(r, 1500));
  t.false(
    otlp.spans.some((s) => s.traceId === '1'.repeat(32)),
    'the caller did not sample it, so neither does the daemon',
  );
  t.is(metricSum(await h.metrics.registry.metrics(), 'ambit_trace_spans_dropped_total', {}), 0);
});

test('without a tracing provider in the mesh there is no tracer and no span', async (t) => {
  const h = await harness(t, () => []);
  t.false(h.tracing.enabled);
  const stream = await h.connect(CLIENT, { traceparent: `00-${TRACE}-${PARENT}-01` });
  stream.end('x');
  for await (const _ of stream);
  t.pass();
});
