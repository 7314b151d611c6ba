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
/** A ready waypoint for `service` on node b; each gets its own port. */
export function waypointFor(service: string, index = 0): EndpointRecord {
  return waypointEndpoint({ namespace: 'default', service, node: 'b', address: '10.0.0.2', port: 15009 + index, metricsPort: 15021 + index, state: 'ready' });
}

export interface MeshShape {
  /** Services with a ready waypoint (default: reviews; the demo also gives ratings one). */
  waypoints?: readonly string[];
}

export function bookinfoSnapshot(resources: Resource[], { waypoints = ['reviews'] }: MeshShape = {}): Snapshot {
  const s = snapshot(WORKLOADS, resources);
  waypoints.forEach((service, i) => {
    const w = waypointFor(service, i);
    s.endpoints.set(`default/${w.service}/b/${w.address}:${w.port}`, w);
  });
  return s;
}

export function bookinfoMesh(resources: Resource[], opts: MeshShape = {}): Promise<LiveMesh> {
  return liveMesh(bookinfoSnapshot(resources, opts), NODES, { trustDomain: 'cluster.local', domain: 'cluster.local' });
}
