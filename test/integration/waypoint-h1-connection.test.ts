/**
 * H1Connection on a real loopback TCP connection to a real node:http server
 * (the stream type does not matter to it): keep-alive reuse through its
 * per-request agent, and Envoy's reset-before-request: a reused connection
 * the endpoint closed before the next request was written fails that
 * request with EWAYPOINT_STALE and says nothing was sent, so the router may
 * send it again.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import test from 'ava';
import type { Upstream } from '../../waypoint/config.js';
import type { ConnectionEvents, PooledConnection } from '../../waypoint/connection-pool.js';
import { H1Connection } from '../../waypoint/h1-connection.js';
import { readAll } from '../helpers/hbone-harness.js';

async function endpoint(t: import('ava').ExecutionContext) {
  const sockets: Socket[] = [];
  const server = createServer((req, res) => res.end(`hello ${req.url}`));
  server.on('connection', (s) => sockets.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, sockets };
}

function upstream(port: number): Upstream {
  return {
    service: 'reviews.default.svc.cluster.local',
    endpoint: { key: `127.0.0.1:${port}`, address: '127.0.0.1', port, labels: {} },
    record: { service: 'reviews', namespace: 'default', node: 'n', address: '127.0.0.1', port, serviceAccount: 'reviews', labels: {} },
    peer: { host: '127.0.0.1', port },
    identity: 'spiffe://cluster.local/ns/default/sa/reviews',
    peerIdentity: 'spiffe://cluster.local/ns/ambit-system/sa/n',
    authority: `127.0.0.1:${port}`,
  };
}

/** What the pool does when it leases a connection. */
const lease = (c: H1Connection): void => {
  c.requests++;
  c.active++;
};

function get(c: H1Connection, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ agent: c.agent() as never, host: '127.0.0.1', port: c.upstream.endpoint.port, path }, resolve);
    req.on('error', reject);
    req.end();
  });
}

test('requests on one H1Connection share one TCP connection; the pool hears each release', async (t) => {
  const ep = await endpoint(t);
  const released: PooledConnection[] = [];
  const ev: ConnectionEvents = { released: (c) => released.push(c), closed: () => undefined };
  const c = new H1Connection(upstream(ep.port), Promise.resolve(connect(ep.port, '127.0.0.1')), ev);
  t.teardown(() => c.close());
  for (const path of ['/a', '/b', '/c']) {
    lease(c);
    const res = await get(c, path);
    t.is((await readAll(res)).toString(), `hello ${path}`);
    await new Promise((r) => setImmediate(r));
  }
  t.is(ep.sockets.length, 1);
  t.is(released.length, 3);
  t.is(c.active, 0);
});

test('reset-before-request: a reused connection the endpoint closed before the request was written fails with EWAYPOINT_STALE, nothing sent', async (t) => {
  const ep = await endpoint(t);
  const closed: PooledConnection[] = [];
  const ev: ConnectionEvents = { released: () => undefined, closed: (c) => closed.push(c) };
  const c = new H1Connection(upstream(ep.port), Promise.resolve(connect(ep.port, '127.0.0.1')), ev);
  t.teardown(() => c.close());
  lease(c);
  await readAll(await get(c, '/first'));
  await new Promise((r) => setImmediate(r));
  // Leased again, then the endpoint's FIN arrives before the request is written.
  lease(c);
  ep.sockets[0]!.end();
  await new Promise((r) => setTimeout(r, 50));
  const err = await get(c, '/second').then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  t.is(err?.code, 'EWAYPOINT_STALE');
  t.false(c.requestSent);
  t.true(c.closed);
  t.is(closed.length, 1);
});
