/**
 * HTTP/2 to endpoints, and translation between client and endpoint HTTP
 * versions, through real HBONE hops: h2c upstream under
 * `h2UpgradePolicy: UPGRADE` or `useClientProtocol` with an h2 client, one
 * pooled session per endpoint bounded by http2MaxRequests, GOAWAY handled,
 * and headers, bodies, statuses and trailers carried both ways.
 */
import type { Http2ServerRequest } from 'node:http2';
import test, { type ExecutionContext } from 'ava';
import { OVERFLOW_HEADER } from '../../core/routing/index.js';
import { many, resource, startWaypoint, type EndpointSpec, type Handler } from '../helpers/waypoint-harness.js';

/** Answers with the HTTP version it was spoken to in, the request it saw, and a trailer. */
const echo: Handler = (req, res, body) => {
  res.setHeader('x-proto', req.httpVersion);
  res.setHeader('x-seen', `${req.method} ${req.url} ${String(req.headers['x-custom'])} ${body}`);
  res.statusCode = req.method === 'POST' ? 201 : 200;
  res.write(`echo:${body}`);
  res.addTrailers({ 'x-checksum': `len-${body.length}` });
  res.end();
};

const pool = (http: Record<string, unknown>) => resource('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy: { connectionPool: { http } } });
const opened = async (h: Awaited<ReturnType<typeof startWaypoint>>, protocol: string): Promise<number> =>
  (await h.waypoint.metrics.connectionsOpened.get()).values.filter((v) => v.labels.protocol === protocol).reduce((n, v) => n + v.value, 0);

/** A POST whose method, path, header and body must reach the echo endpoint, and whose status, headers, body and trailer must come back. */
async function crosses(t: ExecutionContext, h: Awaited<ReturnType<typeof startWaypoint>>, h2Client: boolean, endpointVersion: string): Promise<void> {
  const r = await h.request({
    h2: h2Client,
    method: 'POST',
    path: '/reviews/7?x=1',
    headers: { 'x-custom': 'yes', 'content-type': 'text/plain', te: 'trailers' },
    body: 'hello',
  });
  t.is(r.status, 201);
  t.is(r.headers['x-proto'], endpointVersion);
  t.is(r.headers['x-seen'], 'POST /reviews/7?x=1 yes hello');
  t.is(r.body, 'echo:hello');
  t.is(r.trailers['x-checksum'], 'len-5');
}

test('HTTP/1.1 client to an h2c endpoint under h2UpgradePolicy: UPGRADE: method, path, headers, body, status and trailers cross', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1', protocol: 'h2c', handler: echo }], [pool({ h2UpgradePolicy: 'UPGRADE' })]);
  await crosses(t, h, false, '2.0');
});

test('UPGRADE: one h2 session per endpoint carries concurrent requests', async (t) => {
  const slow: EndpointSpec = { service: 'reviews', version: 'v1', protocol: 'h2c', handler: (_q, res) => void setTimeout(() => res.end('ok'), 30) };
  const h = await startWaypoint(t, [slow], [pool({ h2UpgradePolicy: 'UPGRADE' })]);
  const replies = await many(40, 20, () => h.request());
  t.true(replies.every((r) => r.status === 200 && r.body === 'ok'));
  t.is(await opened(h, 'h2'), 1);
  t.is(await opened(h, 'h1'), 0);
});

test('h2c client to an HTTP/1.1 endpoint (the default): headers, body, status and chunked trailers cross', async (t) => {
  const h = await startWaypoint(t, [{ service: 'reviews', version: 'v1', handler: echo }], []);
  await crosses(t, h, true, '1.1');
});

test("useClientProtocol: each client's HTTP version reaches the endpoint, UPGRADE notwithstanding", async (t) => {
  const ep: EndpointSpec = { service: 'reviews', version: 'v1', protocol: 'both', handler: echo };
  const h = await startWaypoint(t, [ep], [pool({ useClientProtocol: true, h2UpgradePolicy: 'UPGRADE' })]);
  const r2 = await h.request({ h2: true });
  t.is(r2.headers['x-proto'], '2.0');
  t.is((await h.request()).headers['x-proto'], '1.1');
  t.is(await opened(h, 'h2'), 1);
  t.is(await opened(h, 'h1'), 1);
});

test('http2MaxRequests: 2 bounds the requests in flight on the session; the rest overflow at once', async (t) => {
  const slow: EndpointSpec = { service: 'reviews', version: 'v1', protocol: 'h2c', handler: (_q, res) => void setTimeout(() => res.end('served'), 300) };
  const h = await startWaypoint(t, [slow], [pool({ h2UpgradePolicy: 'UPGRADE', http2MaxRequests: 2 })]);
  t.is((await h.request()).status, 200, 'warm: sessions are up before the burst');
  const replies = await many(6, 6, () => h.request());
  const served = replies.filter((r) => r.status === 200);
  const overflowed = replies.filter((r) => r.status === 503 && r.headers[OVERFLOW_HEADER] === 'requests');
  t.is(served.length, 2);
  t.is(overflowed.length, 4);
  t.true(Math.max(...overflowed.map((r) => r.ms)) < 250, 'overflow does not wait for the endpoint');
  t.is(await opened(h, 'h2'), 1);
});

test('an endpoint that sends GOAWAY every third request: the session drains and requests go on over a new one', async (t) => {
  let n = 0;
  const goaway: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    protocol: 'h2c',
    handler: (req, res) => {
      res.end('ok');
      if (++n % 3 === 0) (req as unknown as Http2ServerRequest).stream.session?.close();
    },
  };
  const h = await startWaypoint(t, [goaway], [pool({ h2UpgradePolicy: 'UPGRADE' })]);
  for (let i = 0; i < 10; i++) {
    const r = await h.request();
    t.is(r.status, 200, r.body);
  }
  t.true((await opened(h, 'h2')) >= 3, `${await opened(h, 'h2')} sessions`);
});

test('retries over HTTP/2 replay the body on the same session', async (t) => {
  let calls = 0;
  const bodies: string[] = [];
  const flaky: EndpointSpec = {
    service: 'reviews',
    version: 'v1',
    protocol: 'h2c',
    handler: (_q, res, body) => {
      bodies.push(body);
      if (++calls === 1) res.writeHead(503).end('busy');
      else res.end('ok');
    },
  };
  const vs = resource('VirtualService', 'reviews', {
    hosts: ['reviews'],
    http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 2, retryOn: '5xx' } }],
  });
  const h = await startWaypoint(t, [flaky], [vs, pool({ h2UpgradePolicy: 'UPGRADE' })]);
  const r = await h.request({ method: 'PUT', body: 'payload', headers: { 'content-type': 'text/plain' } });
  t.is(r.status, 200);
  t.deepEqual(bodies, ['payload', 'payload']);
  t.is(await opened(h, 'h2'), 1);
});
