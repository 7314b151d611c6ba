/** Header translation between the client's hop and the endpoint's: pure functions over plain header objects. */
import test from 'ava';
import { h2RequestHeaders, shadowAuthority, stripHopByHop, withoutPseudoHeaders } from '../../waypoint/headers.js';

test("stripHopByHop drops the client connection's headers, those its Connection header lists included; te: trailers stays", (t) => {
  const h: Record<string, string | undefined> = {
    connection: 'keep-alive, x-hop',
    'keep-alive': 'timeout=5',
    'x-hop': '1',
    'proxy-connection': 'close',
    upgrade: 'h2c',
    te: 'trailers',
    'transfer-encoding': 'chunked',
    'x-end': 'kept',
  };
  stripHopByHop(h);
  t.deepEqual(h, { te: 'trailers', 'transfer-encoding': 'chunked', 'x-end': 'kept' });
  const gzip: Record<string, string> = { te: 'gzip' };
  stripHopByHop(gzip);
  t.deepEqual(gzip, {});
});

test('h2RequestHeaders: pseudo-headers from the request, Host as :authority, nothing HTTP/2 forbids', (t) => {
  const fromH1 = h2RequestHeaders({
    method: 'POST',
    url: '/a?b=1',
    headers: { host: 'reviews:9080', 'transfer-encoding': 'chunked', connection: 'close', te: 'trailers', 'x-a': '1', cookie: ['a=1', 'b=2'] } as never,
  });
  t.deepEqual(fromH1, {
    te: 'trailers',
    'x-a': '1',
    cookie: ['a=1', 'b=2'],
    ':method': 'POST',
    ':path': '/a?b=1',
    ':authority': 'reviews:9080',
    ':scheme': 'http',
  });
  const fromH2 = h2RequestHeaders({
    method: 'GET',
    url: '/x',
    headers: { ':path': '/rewritten', ':authority': 'ratings', ':method': 'GET', ':scheme': 'https' },
  });
  t.like(fromH2, { ':path': '/rewritten', ':authority': 'ratings', ':scheme': 'http' });
});

test('withoutPseudoHeaders keeps only regular fields', (t) => {
  t.deepEqual(withoutPseudoHeaders({ ':status': 200, 'content-type': 'text/plain' }), { 'content-type': 'text/plain' });
});

test('shadowAuthority: -shadow goes after the host, before any port, as Envoy writes it', (t) => {
  t.is(shadowAuthority('reviews:9080'), 'reviews-shadow:9080');
  t.is(shadowAuthority('reviews.default.svc.cluster.local'), 'reviews.default.svc.cluster.local-shadow');
  t.is(shadowAuthority('[fd00::1]:80'), '[fd00::1]-shadow:80');
  t.is(shadowAuthority('[fd00::1]'), '[fd00::1]-shadow');
});
