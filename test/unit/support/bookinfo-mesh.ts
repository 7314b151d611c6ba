/**
 * A Bookinfo-like mesh as plain records, the demo's shape: productpage on node
 * a, details/reviews (v1, v2, v3)/ratings on node b, a waypoint for reviews,
 * for `ambit explain` and `ambit analyze` tests against a MeshState built the
 * way ambitd builds it.
 */
import type { Resource } from '../../../core/config/resource.js';
import type { EndpointRecord, Snapshot } from '../../../core/store/types.js';
import { waypointEndpoint } from '../../../core/store/waypoints.js';
import { liveMesh, type LiveMesh } from '../../../cli/live-mesh.js';
import { endpoint, NODES, snapshot } from './daemon-fixtures.js';

const app = (name: string, version = 'v1') => ({ app: name, version });

export const PRODUCTPAGE = endpoint({
  service: 'productpage',
  node: 'a',
  address: '10.0.0.1',
  port: 9080,
  uid: 2001,
  serviceAccount: 'bookinfo-productpage',
  labels: app('productpage'),
});
export const DETAILS = endpoint({ service: 'details', node: 'b', address: '10.0.3.1', port: 9080, serviceAccount: 'bookinfo-details', labels: app('details') });
export const REVIEWS = ['v1', 'v2', 'v3'].map((v, i) =>
  endpoint({
    service: 'reviews',
    node: 'b',
    address: `10.0.1.${i + 1}`,
    port: 9080,
    uid: 2100 + i,
    serviceAccount: 'bookinfo-reviews',
    labels: app('reviews', v),
  }),
);
export const RATINGS = endpoint({ service: 'ratings', node: 'b', address: '10.0.2.1', port: 9080, serviceAccount: 'bookinfo-ratings', labels: app('ratings') });
export const WORKLOADS: EndpointRecord[] = [PRODUCTPAGE, DETAILS, ...REVIEWS, RATINGS];
export const REVIEWS_WAYPOINT = waypointEndpoint({
  namespace: 'default',
  service: 'reviews',
  node: 'b',
  address: '10.0.0.2',
  port: 15009,
  metricsPort: 15021,
  state: 'ready',
});

export function bookinfoSnapshot(resources: Resource[], { waypoint = true } = {}): Snapshot {
  const s = snapshot(WORKLOADS, resources);
  if (waypoint) s.endpoints.set(`default/${REVIEWS_WAYPOINT.service}/b/${REVIEWS_WAYPOINT.address}:${REVIEWS_WAYPOINT.port}`, REVIEWS_WAYPOINT);
  return s;
}

export function bookinfoMesh(resources: Resource[], opts: { waypoint?: boolean } = {}): Promise<LiveMesh> {
  return liveMesh(bookinfoSnapshot(resources, opts), NODES, { trustDomain: 'cluster.local', domain: 'cluster.local' });
}
