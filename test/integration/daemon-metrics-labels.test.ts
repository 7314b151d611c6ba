/**
 * Issue 14, against a real Redis, a real signer, real TLS and a real ambitd
 * (in this process, capture off), scraped on its :15020/metrics as Prometheus
 * would: N tunnels into 15008 are counted on one series per edge that carries
 * every one of Istio's TCP labels with the right values, and once they have
 * all closed istio_tcp_connections_opened_total - istio_tcp_connections_closed_total
 * is 0 on every series, even though the destination's labels changed in the
 * store while they were open (labels are built at open, not again at close).
 */
import test from 'ava';
import { requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { signedEnroll } from '../../core/identity/manifest/writer.js';
import { HboneClient } from '../../core/hbone/index.js';
import type { EndpointRecord } from '../../core/store/types.js';
import { TCP_LABELS } from '../../core/telemetry/labels.js';
import { eventually } from '../helpers/eventually.js';
import { startEchoServer } from '../helpers/echo-server.js';
import { samples } from '../helpers/prometheus-text.js';
import { bookinfoEdge, PRODUCTPAGE_ID } from '../helpers/istio-edge.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startNodeA } from './daemon-util.js';
import { mesh } from './identity-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const seriesKey = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

const N = 20;
const PRODUCTPAGE = PRODUCTPAGE_ID;

test.serial(`${N} tunnels into ambitd: one series per edge with every Istio label right, and opened - closed = 0 per series once they close`, async (t) => {
  const m = await mesh(t, redis.url);
  const echoPort = await startEchoServer(t);
  const reviews: EndpointRecord = {
    service: 'reviews',
    namespace: 'default',
    node: 'a',
    address: '127.0.0.1',
    port: echoPort,
    serviceAccount: 'bookinfo-reviews',
    labels: { app: 'reviews', version: 'v2' },
  };
  await signedEnroll(m.store, m.operator, reviews);
  // The caller: enrolled on a, the node its tunnels come from (127.0.0.1), which names its workload;
  // its certificate comes through node b, where it is enrolled too.
  const caller = { namespace: 'default', serviceAccount: 'productpage', labels: { app: 'productpage', version: 'v1' } };
  await signedEnroll(m.store, m.operator, { ...caller, service: 'productpage', node: 'a', address: '127.0.0.1', port: 1 });
  const b = await m.join('b');
  await signedEnroll(m.store, m.operator, { ...caller, service: 'productpage', node: 'b', address: '127.0.0.2', port: 9080 });
  const signerB = new SignerClient(m.store, 'b', 5000);
  t.teardown(() => signerB.close());
  const cert = await requestWorkloadCert(signerB, b, PRODUCTPAGE);

  const { daemon, base } = await startNodeA(t, m, redis.url);
  await eventually(async () => daemon.state.localEndpoint('127.0.0.1', echoPort) !== undefined, 5000);
  const client = new HboneClient({ getSecureContext: () => ({ key: cert.keyPem, cert: cert.chainPem, ca: [m.ca.root.pem] }), connectTimeoutMs: 3000 });
  t.teardown(() => client.close());
  const scrape = async () => (await fetch(`http://127.0.0.1:${base + 4}/metrics`)).text();
  const total = async (name: string) => samples(await scrape(), name).reduce((n, s) => n + s.value, 0);

  const streams = await Promise.all(
    Array.from({ length: N }, () => client.connect({ peer: { host: '127.0.0.1', port: base + 1 }, authority: `127.0.0.1:${echoPort}`, source: PRODUCTPAGE })),
  );
  await eventually(async () => (await total('istio_tcp_connections_opened_total')) === N, 5000);

  // While they are open the destination's labels change: a close that rebuilt its labels would count another series.
  await signedEnroll(m.store, m.operator, { ...reviews, labels: { app: 'reviews', version: 'v3' } });
  await eventually(async () => daemon.state.localEndpoint('127.0.0.1', echoPort)?.labels.version === 'v3', 5000);

  await Promise.all(
    streams.map(async (s, i) => {
      s.end(`ping ${i}`);
      let got = '';
      for await (const chunk of s) got += String(chunk);
      t.is(got, `ping ${i}`);
    }),
  );
  await eventually(async () => (await total('istio_tcp_connections_closed_total')) === N, 5000);
  const text = await scrape();

  const opened = samples(text, 'istio_tcp_connections_opened_total');
  const closed = samples(text, 'istio_tcp_connections_closed_total');
  t.is(opened.length, 1, 'one edge, one series');
  const byKey = new Map(closed.map((s) => [seriesKey(s.labels), s.value]));
  for (const s of opened) t.is(s.value - (byKey.get(seriesKey(s.labels)) ?? 0), 0, `opened - closed on ${seriesKey(s.labels)}`);
  t.is(closed.length, opened.length, 'no series only a close counted');

  const labels = opened[0]!.labels;
  t.deepEqual(Object.keys(labels).sort(), [...TCP_LABELS].sort(), 'every Istio TCP label, no other');
  t.deepEqual(labels, bookinfoEdge('destination'));
  const bytes = (name: string) => samples(text, name).find((s) => seriesKey(s.labels) === seriesKey(labels))?.value;
  const sent = Array.from({ length: N }, (_, i) => `ping ${i}`.length).reduce((a, b) => a + b, 0);
  t.is(bytes('istio_tcp_received_bytes_total'), sent, 'bytes from the peer, on the same series');
  t.is(bytes('istio_tcp_sent_bytes_total'), sent, 'and back');
});
