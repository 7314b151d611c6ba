/**
 * Istio's Telemetry API on ambitd's own connections, through ambitd's real
 * inbound (createInbound) behind a real HboneClient and a real echo service:
 * metric overrides of the destination workload (reporter="destination")
 * disable one TCP metric and relabel the others, access logging turned off
 * for that workload silences its "inbound connection closed" lines, and a
 * line that is logged carries the trace id of the tunnel's span. Each change
 * is a new mesh state, as a snapshot is, taking effect on the next tunnel
 * without a restart.
 */
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { HboneClient } from '../../core/hbone/index.js';
import type { Resource } from '../../core/config/resource.js';
import type { MeshState } from '../../core/mesh/index.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { TunnelTracing } from '../../daemon/tunnel-tracing.js';
import { eventually } from '../helpers/eventually.js';
import { samples } from '../helpers/prometheus-text.js';
import { startInbound } from '../helpers/inbound-daemon.js';
import { makeTestCa, workload } from '../helpers/test-pki.js';
import { endpoint, state as meshState } from '../unit/support/daemon-fixtures.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT = workload('default', 'productpage');

const telemetry = (name: string, spec: Record<string, unknown>, namespace = 'default'): Resource => ({
  apiVersion: 'telemetry.istio.io/v1',
  kind: 'Telemetry',
  metadata: { name, namespace },
  spec,
});

/** Tracing on (100 %), to a provider port nothing listens on: spans are made, and dropped. */
function tracingOn(deadPort: number): Resource[] {
  return [
    {
      apiVersion: 'ambit.dev/v1alpha1',
      kind: 'MeshConfig',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: {
        extensionProviders: [{ name: 'otel', opentelemetry: { service: '127.0.0.1', port: deadPort, http: { path: '/v1/traces', timeout: '1s' } } }],
        defaultProviders: { tracing: ['otel'] },
      },
    },
    telemetry('mesh-default', { tracing: [{ randomSamplingPercentage: 100 }] }, 'istio-system'),
  ];
}

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function harness(t: ExecutionContext) {
  const pki = await makeTestCa();
  const upstream = createServer((s) => s.pipe(s));
  const port = await listening(upstream);
  // A port that was free a moment ago and is closed again: the spans' exports fail fast.
  const dead = createServer();
  const deadPort = await listening(dead);
  await new Promise((r) => dead.close(r));
  t.teardown(() => upstream.close());
  const reviews = endpoint({ service: 'reviews', node: 'a', address: '127.0.0.1', port, labels: { app: 'reviews', version: 'v2' } });
  let state: MeshState = meshState([reviews], tracingOn(deadPort), { hbonePort: 0 });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const metrics = new DaemonMetrics();
  const tracing = new TunnelTracing(metrics, pino({ level: 'silent' }));
  tracing.update(state);
  const hbonePort = await startInbound(t, pki, { state: () => state, metrics, tracing, log });
  const identity = await pki.issue(CLIENT);
  const client = new HboneClient({ getSecureContext: () => identity });
  t.teardown(async () => {
    client.close();
    await tracing.shutdown();
  });
  const text = async () => metrics.registry.metrics();
  const closes = async () => samples(await text(), 'istio_tcp_connections_closed_total').reduce((n, x) => n + x.value, 0);
  /** One tunnel, a round trip of `text`, closed; resolves once the daemon has counted the close. */
  const roundTrip = async (body: string, headers: Record<string, string> = {}) => {
    const before = await closes();
    const stream = await client.connect({ peer: { host: '127.0.0.1', port: hbonePort }, authority: `127.0.0.1:${port}`, source: CLIENT, headers });
    stream.end(body);
    let echoed = '';
    for await (const chunk of stream) echoed += String(chunk);
    t.is(echoed, body);
    await eventually(async () => (await closes()) > before, 5000);
  };
  const apply = (...resources: Resource[]) => {
    state = meshState([reviews], [...tracingOn(deadPort), ...resources], { hbonePort: 0 });
    tracing.update(state);
  };
  const closedLines = () => lines.filter((l) => l.msg === 'inbound connection closed');
  return { roundTrip, apply, text, closedLines };
}

test('metric overrides for the destination workload: TCP_SENT_BYTES off, a tag removed and one upserted, live per snapshot', async (t) => {
  const h = await harness(t);
  await h.roundTrip('before any override');
  const plain = samples(await h.text(), 'istio_tcp_connections_opened_total');
  t.is(plain.length, 1);
  t.like(plain[0]!.labels, { reporter: 'destination', source_principal: CLIENT, destination_version: 'v2' });

  h.apply(
    telemetry('reviews', {
      selector: { matchLabels: { app: 'reviews' } },
      metrics: [
        {
          overrides: [
            { match: { metric: 'TCP_SENT_BYTES' }, disabled: true },
            {
              match: { metric: 'ALL_METRICS' },
              tagOverrides: { source_principal: { operation: 'REMOVE' }, destination_version: { value: 'connection.mtls' } },
            },
          ],
        },
      ],
    }),
  );
  const sentBefore = samples(await h.text(), 'istio_tcp_sent_bytes_total').reduce((n, s) => n + s.value, 0);
  await h.roundTrip('with overrides');
  const text = await h.text();
  const relabelled = (name: string) => samples(text, name).filter((s) => s.labels.destination_version === 'true');
  t.is(relabelled('istio_tcp_connections_opened_total').length, 1, 'the new tunnel counts on the relabelled series');
  t.is(relabelled('istio_tcp_connections_opened_total')[0]!.labels.source_principal, '', 'REMOVE leaves the label empty');
  t.is(relabelled('istio_tcp_connections_closed_total')[0]!.value, 1, 'its close on the same series');
  t.is(relabelled('istio_tcp_received_bytes_total')[0]!.value, 'with overrides'.length);
  t.is(relabelled('istio_tcp_sent_bytes_total').length, 0, 'TCP_SENT_BYTES disabled');
  t.is(
    samples(text, 'istio_tcp_sent_bytes_total').reduce((n, s) => n + s.value, 0),
    sentBefore,
    'and nothing else counted it',
  );
  // Every series, the first tunnel's and the relabelled one, is back at 0 open.
  const closed = new Map(samples(text, 'istio_tcp_connections_closed_total').map((s) => [JSON.stringify(s.labels), s.value]));
  for (const s of samples(text, 'istio_tcp_connections_opened_total')) t.is(s.value - (closed.get(JSON.stringify(s.labels)) ?? NaN), 0);
});

test("access logging off for the workload silences its lines; a logged line carries the span's trace id", async (t) => {
  const h = await harness(t);
  await h.roundTrip('logged', { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
  t.is(h.closedLines().length, 1);
  t.like(h.closedLines()[0], { src: CLIENT, trace_id: TRACE, bytesToDestination: 'logged'.length, bytesFromDestination: 'logged'.length });

  h.apply(telemetry('reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ disabled: true }] }));
  await h.roundTrip('not logged');
  t.is(h.closedLines().length, 1, 'no line for the workload whose access logging is off');

  // A filter instead: mTLS connections only (every tunnel is), then plaintext only (none is).
  h.apply(telemetry('reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ filter: { expression: 'connection.mtls' } }] }));
  await h.roundTrip('mtls');
  t.is(h.closedLines().length, 2);
  h.apply(telemetry('reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ filter: { expression: '!connection.mtls' } }] }));
  await h.roundTrip('filtered out');
  t.is(h.closedLines().length, 2, 'the filter is false for a tunnel');
});
