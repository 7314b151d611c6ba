/**
 * WebSocket through the waypoint over real HBONE hops: a real RFC 6455
 * handshake (Sec-WebSocket-Accept checked by the client) and echoed
 * messages both ways, routed like any request (VirtualService match,
 * AuthorizationPolicy, endpoint pick), refusals relayed, the upgraded
 * connection never pooled again, and one access-log line with 101.
 */
import test from 'ava';
import { until } from '../helpers/hbone-harness.js';
import { resource, startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';
import { openWebSocket, serveEcho } from '../helpers/websocket.js';

const wsEndpoint = (version: string): EndpointSpec => ({
  service: 'reviews',
  version,
  upgrade: (req, socket, head) => serveEcho(req, socket, head, `${version}:`),
});

test('a WebSocket handshake and echo pass through, both ways, and the close reaches the endpoint', async (t) => {
  const h = await startWaypoint(t, [wsEndpoint('v1')], []);
  const ws = await openWebSocket(await h.tunnel(), 'reviews:9080', '/chat');
  t.is(ws.status, 101);
  for (const msg of ['hello', 'second message', 'x'.repeat(2000)]) {
    ws.send(msg);
    t.deepEqual(await ws.reader!.next(), { opcode: 1, text: `v1:${msg}` });
  }
  ws.close();
  t.is((await ws.reader!.next())?.opcode, 8, 'the endpoint answers the close');
  await until(() => h.accessLog.length === 1, 3000);
  t.like(h.accessLog[0], { response_code: 101, method: 'GET', path: '/chat', attempts: 1 });
  t.regex(h.accessLog[0]!.upstream_cluster ?? '', /reviews/);
});

test('a WebSocket is routed like any request: VirtualService match picks the subset, AuthorizationPolicy can deny it', async (t) => {
  const dr = resource('DestinationRule', 'reviews', {
    host: 'reviews',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  const vs = resource('VirtualService', 'reviews', {
    hosts: ['reviews'],
    http: [
      { match: [{ uri: { prefix: '/live' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ],
  });
  const deny = resource('AuthorizationPolicy', 'no-admin-ws', {
    targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }],
    action: 'DENY',
    rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }],
  });
  const h = await startWaypoint(t, [wsEndpoint('v1'), wsEndpoint('v2')], [dr, vs, deny]);
  const live = await openWebSocket(await h.tunnel(), 'reviews:9080', '/live/feed');
  live.send('ping');
  t.is((await live.reader!.next())?.text, 'v2:ping');
  const other = await openWebSocket(await h.tunnel(), 'reviews:9080', '/other');
  other.send('ping');
  t.is((await other.reader!.next())?.text, 'v1:ping');
  const denied = await openWebSocket(await h.tunnel(), 'reviews:9080', '/admin/console');
  t.is(denied.status, 403);
  t.is(denied.body, 'RBAC: access denied');
  t.is(h.hits.get('reviews-v1'), 1);
  t.is(h.hits.get('reviews-v2'), 1);
  live.close();
  other.close();
});

test('an endpoint that refuses the upgrade: its answer reaches the client; a non-WebSocket upgrade is refused with 403', async (t) => {
  const refusing: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    upgrade: (_req, socket) => void socket.end('HTTP/1.1 426 Upgrade Required\r\ncontent-length: 6\r\nconnection: close\r\n\r\nno ws!'),
  };
  const h = await startWaypoint(t, [refusing], []);
  const ws = await openWebSocket(await h.tunnel(), 'reviews:9080', '/');
  t.is(ws.status, 426);
  t.is(ws.body, 'no ws!');
  const h2c = await openWebSocket(await h.tunnel(), 'reviews:9080', '/', { upgrade: 'h2c' });
  t.is(h2c.status, 403);
  t.is(h.hits.get('reviews-v1'), 1, 'the h2c upgrade never reached the endpoint');
});

test('the connection a WebSocket used is never pooled again; plain requests open their own', async (t) => {
  const ep: EndpointSpec = { ...wsEndpoint('v1'), handler: (_q, res) => res.end('plain') };
  const h = await startWaypoint(t, [ep], []);
  const ws = await openWebSocket(await h.tunnel(), 'reviews:9080', '/ws');
  ws.send('a');
  t.is((await ws.reader!.next())?.text, 'v1:a');
  t.is((await h.request()).body, 'plain');
  ws.send('b');
  t.is((await ws.reader!.next())?.text, 'v1:b', 'the WebSocket still has its connection to itself');
  const conns = h.waypoint.clusters.pools().flatMap((p) => p.connections());
  t.is(conns.length, 2);
  t.is(conns.filter((c) => c.draining).length, 1);
  ws.close();
  await until(() => h.waypoint.clusters.pools().flatMap((p) => p.connections()).length === 1, 3000);
});
