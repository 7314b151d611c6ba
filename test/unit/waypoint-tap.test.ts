import test from 'ava';
import { Counter, Registry } from 'prom-client';
import type { AccessLogEntry } from '../../waypoint/access-log.js';
import { QUEUE_LIMIT, type TapEvent } from '../../core/telemetry/tap-hub.js';
import { matchesRequest as matches, requestTap } from '../../waypoint/tap-filter.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const entry = (n: number, over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  start_time: new Date(0).toISOString(),
  method: 'GET',
  path: `/r/${n}`,
  protocol: 'HTTP/1.1',
  authority: 'reviews:9080',
  response_code: 200,
  response_flags: '-',
  duration_ms: 1,
  attempts: 1,
  upstream_host: undefined,
  upstream_cluster: undefined,
  route_name: undefined,
  source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
  source_address: '10.0.0.1',
  destination_service: REVIEWS,
  request_id: String(n),
  ...over,
});

const sink = (full = () => false) => {
  const got: TapEvent<AccessLogEntry>[] = [];
  let ended = 0;
  return { got, ended: () => ended, sink: { write: (e: TapEvent<AccessLogEntry>) => (got.push(e), !full()), end: () => void ended++ } };
};

test('filters: service, method, path prefix, exact status or class', (t) => {
  const e = entry(1, { response_code: 503, method: 'POST', path: '/reviews/1' });
  t.true(matches({}, REVIEWS, e));
  t.true(matches({ service: REVIEWS, method: 'POST', path: '/reviews', status: '5xx' }, REVIEWS, e));
  t.true(matches({ status: '503' }, REVIEWS, e));
  t.false(matches({ status: '4xx' }, REVIEWS, e));
  t.false(matches({ status: '50' }, REVIEWS, e));
  t.false(matches({ method: 'GET' }, REVIEWS, e));
  t.false(matches({ path: '/ratings' }, REVIEWS, e));
  t.false(matches({ service: 'ratings.default.svc.cluster.local' }, REVIEWS, e));
});

test('a subscriber gets its matching requests in order and ends after max; with none, nothing is tapped', (t) => {
  const hub = requestTap();
  t.false(hub.tapping(REVIEWS));
  const s = sink();
  hub.subscribe({ service: REVIEWS, path: '/r/' }, 2, s.sink);
  t.true(hub.tapping(REVIEWS));
  t.false(hub.tapping('ratings.default.svc.cluster.local'));
  hub.publish(REVIEWS, entry(1, { path: '/other' }));
  for (const n of [1, 2, 3]) hub.publish(REVIEWS, entry(n));
  t.deepEqual(
    s.got.map((e) => ('request' in e ? e.request.request_id : e)),
    ['1', '2'],
  );
  t.is(s.ended(), 1);
  t.is(hub.subscribers, 0, 'gone once done');
  t.false(hub.tapping(REVIEWS));
});

test('a slow subscriber never blocks publish: past the queue limit records are dropped, counted, and reported in order', async (t) => {
  const registry = new Registry();
  const dropped = new Counter({ name: 'd', help: 'h', registers: [registry] });
  const hub = requestTap(dropped);
  let full = true;
  const s = sink(() => full);
  const sub = hub.subscribe({}, 1_000_000, s.sink);
  // The first write says "full": everything after it queues.
  for (let n = 0; n < QUEUE_LIMIT + 51; n++) hub.publish(REVIEWS, entry(n));
  t.is(s.got.length, 1);
  t.is((await dropped.get()).values[0]?.value, 50);
  full = false;
  sub.resume();
  t.is(s.got.length, 1 + QUEUE_LIMIT);
  hub.publish(REVIEWS, entry(99999));
  t.deepEqual(s.got.at(-2), { dropped: 50 }, 'told how many it missed, before the next record');
  t.like(s.got.at(-1), { request: { request_id: '99999' } });
});

test('max reached while behind: no more is taken, the queue still drains, then it ends; close ends the rest', (t) => {
  const hub = requestTap();
  let full = true;
  const s = sink(() => full);
  const sub = hub.subscribe({}, 3, s.sink);
  for (const n of [1, 2, 3, 4]) hub.publish(REVIEWS, entry(n));
  t.is(hub.subscribers, 0, 'takes nothing more after its third');
  full = false;
  sub.resume();
  t.deepEqual(
    s.got.map((e) => ('request' in e ? e.request.request_id : '')),
    ['1', '2', '3'],
  );
  t.is(s.ended(), 1);
  const other = sink();
  hub.subscribe({}, 10, other.sink);
  hub.close();
  t.is(other.ended(), 1);
});
