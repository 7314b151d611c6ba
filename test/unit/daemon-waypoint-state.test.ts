/** How a waypoint registration reads in MeshState: who runs it, who must send through it, and what it is not. */
import test from 'ava';
import { waypointEndpoint, waypointOf, withWaypointState } from '../../core/store/waypoints.js';
import { endpoint, state } from './support/daemon-fixtures.js';

const reviews = endpoint({ service: 'reviews', node: 'b', address: '10.0.0.2', port: 9080 });
const starting = waypointEndpoint({
  namespace: 'default',
  service: 'reviews',
  node: 'c',
  address: '10.0.0.3',
  port: 15009,
  metricsPort: 15021,
  state: 'starting',
});
const ready = withWaypointState(starting, 'ready');

test('a registration round-trips through its endpoint record; ordinary endpoints are not waypoints', (t) => {
  t.like(waypointOf(ready), {
    service: 'reviews',
    namespace: 'default',
    node: 'c',
    port: 15009,
    metricsPort: 15021,
    state: 'ready',
    serviceAccount: 'reviews-waypoint',
  });
  t.is(starting.service, 'reviews-waypoint');
  t.is(waypointOf(reviews), undefined);
  // The label alone is not enough: the record must be the <svc>-waypoint endpoint it claims to be.
  t.is(waypointOf({ ...reviews, labels: { 'ambit.dev/waypoint-for': 'reviews' } }), undefined);
});

test('daemons send through ready waypoints only; a starting one leaves traffic on direct tunnels', (t) => {
  const svc = (s: ReturnType<typeof state>) => s.serviceByName('reviews.default.svc.cluster.local')!;
  const before = state([reviews, starting], [], { nodeName: 'a' });
  t.deepEqual(before.waypointsFor(svc(before)), []);
  const after = state([reviews, ready], [], { nodeName: 'a' });
  t.deepEqual(
    after.waypointsFor(svc(after)).map((w) => `${w.info.address}:${w.info.port}`),
    ['10.0.0.3:15009'],
  );
});

test('the node named in the registration runs it and holds its identity; it is never a workload', (t) => {
  const onC = state([reviews, starting], [], { nodeName: 'c' });
  t.deepEqual(
    onC.localWaypoints().map((w) => w.info.service),
    ['reviews'],
  );
  t.deepEqual(onC.localIdentities(), ['spiffe://cluster.local/ns/default/sa/reviews-waypoint']);
  t.is(onC.localEndpoint('10.0.0.3', 15009), undefined, 'inbound never dials the waypoint port as a workload');
  t.false(onC.endpointAddresses().includes('10.0.0.3'), 'its node address is not captured for it');
  t.deepEqual(onC.serviceByName('reviews-waypoint.default.svc.cluster.local')?.endpoints ?? [], []);
  t.deepEqual(state([reviews, ready], [], { nodeName: 'a' }).localWaypoints(), []);
});

test("sourceLabels: the labels the caller identity's endpoints on the calling node share", (t) => {
  const v1 = endpoint({ service: 'productpage', node: 'a', address: '10.0.0.1', port: 9080, labels: { app: 'productpage', version: 'v1' } });
  const v2 = endpoint({ service: 'productpage', node: 'a', address: '10.0.0.1', port: 9081, labels: { app: 'productpage', version: 'v2' } });
  const onB = endpoint({ service: 'productpage', node: 'b', address: '10.0.0.2', port: 9080, labels: { app: 'productpage', version: 'v3' } });
  const s = state([v1, v2, onB]);
  const pp = 'spiffe://cluster.local/ns/default/sa/productpage';
  t.deepEqual(s.sourceLabels(pp, '10.0.0.1'), { app: 'productpage' }, 'two versions on a: only what they share');
  t.deepEqual(s.sourceLabels(pp, '10.0.0.2'), { app: 'productpage', version: 'v3' });
  t.is(s.sourceLabels(pp, '10.9.9.9'), undefined, 'not a node');
  t.is(s.sourceLabels('spiffe://cluster.local/ns/default/sa/other', '10.0.0.1'), undefined);
});
