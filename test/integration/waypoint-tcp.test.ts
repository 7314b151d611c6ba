/**
 * Traffic that is not HTTP, through the waypoint as TCP over real HBONE
 * hops: ports whose VirtualService has only tcp routes are proxied at once
 * (server-first protocols work), other ports after sniffing sees no HTTP;
 * tcp routes pick weighted subsets; half-close and resets cross; L4
 * authorization, maxConnections and Istio's TCP metrics apply.
 */
import type { Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import test from 'ava';
import type { Resource } from '../../core/config/index.js';
import { until } from '../helpers/hbone-harness.js';
import { CALLER, many, resource, startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';
import { metricSum } from '../helpers/prometheus-text.js';

/** Says hello first, then echoes each chunk with its version; answers a half-close with `bye` and its own FIN. */
const banner = (version: string): EndpointSpec => ({
  service: 'reviews',
  version,
  tcp: (socket: Socket) => {
    socket.write(`220 ${version} ready\n`);
    socket.on('data', (d: Buffer) => socket.write(`${version}:${d.toString()}`));
    socket.on('end', () => socket.end('bye\n'));
  },
});
/** Speaks only when spoken to (client-first), echoing with its version. */
const echo = (version: string): EndpointSpec => ({
  service: 'reviews',
  version,
  tcp: (socket: Socket) => {
    socket.on('data', (d: Buffer) => socket.write(`${version}:${d.toString()}`));
    socket.on('end', () => socket.end());
  },
});

const SUBSETS = resource('DestinationRule', 'reviews', {
  host: 'reviews',
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});
const tcpRoutes = (port: number, route: Record<string, unknown>[]) =>
  resource('VirtualService', 'reviews', { hosts: ['reviews'], tcp: [{ match: [{ port }], route }] });

/** Everything `stream` sends until `done` says so (or it ends). */
function readUntil(stream: Duplex, done: (text: string) => boolean, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(text)}`)), ms);
    const finish = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(text);
    };
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (done(text)) finish();
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('close', finish);
  });
}

test('tcp routes only for the port: proxied at once, so a server-first protocol works; the route picks the subset; half-close crosses', async (t) => {
  const h = await startWaypoint(t, [banner('v1'), banner('v2')], []);
  h.apply([SUBSETS, tcpRoutes(h.port, [{ destination: { host: 'reviews', subset: 'v2' } }])]);
  const s = await h.tunnel();
  t.is(await readUntil(s, (x) => x.includes('\n')), '220 v2 ready\n');
  s.write('hello');
  t.is(await readUntil(s, (x) => x.length >= 8), 'v2:hello');
  s.end();
  t.is(await readUntil(s, () => false), 'bye\n', 'our FIN reached the endpoint, its answer and FIN came back');
  await until(() => (s as Http2Stream).closed, 2000);
  t.falsy((s as Http2Stream).rstCode, 'closed cleanly');
  const text = await h.waypoint.metrics.registry.metrics();
  const edge = {
    reporter: 'waypoint',
    source_workload: 'productpage-v1',
    source_principal: CALLER,
    destination_workload: 'reviews-v2',
    destination_version: 'v2',
    destination_service: 'reviews.default.svc.cluster.local',
    request_protocol: 'tcp',
    response_flags: '-',
  };
  t.is(metricSum(text, 'istio_tcp_connections_opened_total', edge), 1);
  t.is(metricSum(text, 'istio_tcp_connections_closed_total', edge), 1, 'closed with the labels it opened with');
  t.is(metricSum(text, 'istio_tcp_received_bytes_total', edge), 5);
  t.is(metricSum(text, 'istio_tcp_sent_bytes_total', edge), 25);
  t.false(/istio_tcp_connections_opened_total\{[^}]*response_code=/.test(text), 'TCP metrics carry no response_code');
});

test("Telemetry on the served service's TCP: TCP_SENT_BYTES disabled, source_principal removed from the others, live", async (t) => {
  const h = await startWaypoint(t, [echo('v1')], []);
  const overrides: Resource = {
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: { name: 'reviews-tcp', namespace: 'default' },
    spec: {
      targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }],
      metrics: [
        {
          overrides: [
            { match: { metric: 'TCP_SENT_BYTES' }, disabled: true },
            { match: { metric: 'ALL_METRICS' }, tagOverrides: { source_principal: { operation: 'REMOVE' } } },
          ],
        },
      ],
    },
  };
  h.apply([SUBSETS, tcpRoutes(h.port, [{ destination: { host: 'reviews', subset: 'v1' } }]), overrides]);
  const s = await h.tunnel();
  s.write('hi');
  t.is(await readUntil(s, (x) => x.length >= 5), 'v1:hi');
  s.end();
  await until(() => (s as Http2Stream).closed, 2000);
  const text = await h.waypoint.metrics.registry.metrics();
  const edge = { reporter: 'waypoint', destination_workload: 'reviews-v1', source_principal: '' };
  t.is(metricSum(text, 'istio_tcp_connections_opened_total', edge), 1, 'counted with source_principal emptied');
  t.is(metricSum(text, 'istio_tcp_connections_closed_total', edge), 1);
  t.is(metricSum(text, 'istio_tcp_received_bytes_total', edge), 2);
  t.false(text.includes(`source_principal="${CALLER}"`), 'no series keeps the principal');
  t.is(metricSum(text, 'istio_tcp_sent_bytes_total'), 0, 'TCP_SENT_BYTES is not recorded');
});

test('without tcp routes, bytes that are not HTTP are sniffed as TCP and go to the service; HTTP on the same port still routes', async (t) => {
  const both: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    tcp: (socket) => {
      socket.once('data', (d: Buffer) => {
        if (d.toString().startsWith('GET ')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nhttp');
        else socket.end(`raw:${d.toString('hex')}`);
      });
    },
  };
  const h = await startWaypoint(t, [both], []);
  const s = await h.tunnel();
  // A Redis PING and a TLS ClientHello's first bytes: neither is an HTTP request line.
  s.end(Buffer.from('*1\r\n$4\r\nPING\r\n'));
  t.is(await readUntil(s, () => false), `raw:${Buffer.from('*1\r\n$4\r\nPING\r\n').toString('hex')}`);
  const tls = await h.tunnel();
  tls.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]));
  t.is(await readUntil(tls, () => false), 'raw:1603010005');
  const r = await h.request();
  t.is(r.status, 200);
  t.is(r.body, 'http');
});

test('weighted tcp routes: 200 connections split 80/20 between subsets', async (t) => {
  const h = await startWaypoint(t, [echo('v1'), echo('v2')], []);
  h.apply([
    SUBSETS,
    tcpRoutes(h.port, [
      { destination: { host: 'reviews', subset: 'v1' }, weight: 80 },
      { destination: { host: 'reviews', subset: 'v2' }, weight: 20 },
    ]),
  ]);
  const answers = await many(200, 20, async () => {
    const s = await h.tunnel();
    s.end('x');
    return readUntil(s, () => false);
  });
  const v1 = answers.filter((a) => a === 'v1:x').length;
  const v2 = answers.filter((a) => a === 'v2:x').length;
  t.log(`v1 ${v1} v2 ${v2}`);
  t.is(v1 + v2, 200);
  // Binomial(200, 0.2): sd ~5.7; 4 sd either way.
  t.true(v2 >= 17 && v2 <= 63, `v2 got ${v2}`);
});

test('an endpoint reset reaches the caller as a reset, not a clean end', async (t) => {
  const rude: EndpointSpec = { service: 'reviews', version: 'v1', tcp: (socket) => socket.once('data', () => socket.resetAndDestroy()) };
  const h = await startWaypoint(t, [rude], []);
  h.apply([tcpRoutes(h.port, [{ destination: { host: 'reviews' } }])]);
  const s = (await h.tunnel()) as Http2Stream;
  s.on('error', () => undefined);
  s.write('anything');
  await until(() => s.closed, 3000);
  t.truthy(s.rstCode, `reset with code ${s.rstCode}`);
});

test('maxConnections: 1 refuses a second concurrent TCP connection with a reset, and the next works once the first closed', async (t) => {
  const h = await startWaypoint(t, [echo('v1')], []);
  h.apply([
    resource('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } }),
    tcpRoutes(h.port, [{ destination: { host: 'reviews' } }]),
  ]);
  const first = await h.tunnel();
  first.write('1');
  t.is(await readUntil(first, (x) => x.length >= 4), 'v1:1');
  const second = (await h.tunnel()) as Http2Stream;
  second.on('error', () => undefined);
  second.write('2');
  await until(() => second.closed, 3000);
  t.truthy(second.rstCode);
  t.regex(await h.waypoint.metrics.registry.metrics(), /ambit_waypoint_overflows_total\{[^}]*reason="connections"/);
  first.end();
  await readUntil(first, () => false);
  await until(() => (first as Http2Stream).closed, 2000);
  const third = await h.tunnel();
  third.end('3');
  t.is(await readUntil(third, () => false), 'v1:3');
});

test("L4 AuthorizationPolicy: a denied caller's TCP connection is reset before any endpoint sees it", async (t) => {
  const h = await startWaypoint(t, [echo('v1')], []);
  h.apply([
    tcpRoutes(h.port, [{ destination: { host: 'reviews' } }]),
    resource('AuthorizationPolicy', 'no-productpage', {
      targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }],
      action: 'DENY',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/productpage'] } }] }],
    }),
  ]);
  const s = (await h.tunnel()) as Http2Stream;
  s.on('error', () => undefined);
  s.write('let me in');
  await until(() => s.closed, 3000);
  t.truthy(s.rstCode);
  t.is(h.hits.get('reviews-v1'), undefined);
  t.regex(await h.waypoint.metrics.registry.metrics(), /istio_tcp_connections_opened_total\{[^}]*response_flags="RBAC"/);
});

test('protocolDetectionTimeout: a silent client on a port without tcp routes is proxied as TCP once the timeout passes', async (t) => {
  const h = await startWaypoint(t, [banner('v1')], [], { protocolDetectionTimeoutMs: 200 });
  const started = Date.now();
  const s = await h.tunnel();
  t.is(await readUntil(s, (x) => x.includes('\n')), '220 v1 ready\n');
  const waited = Date.now() - started;
  t.true(waited >= 180, `banner after ${waited} ms`);
  s.end();
  t.is(await readUntil(s, () => false), 'bye\n');
});
