/** The Istio labels of the productpage-v1 -> reviews-v2 edge, as the tests that enroll those two expect them on every metric. */
import type { Reporter } from '../../core/telemetry/labels.js';

export const PRODUCTPAGE_ID = 'spiffe://cluster.local/ns/default/sa/productpage';
export const REVIEWS_ID = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';

/** Every TCP label of the edge (the request labels add response_code and grpc_response_status). */
export function bookinfoEdge(reporter: Reporter, sourcePrincipal = PRODUCTPAGE_ID): Record<string, string> {
  return {
    reporter,
    source_workload: 'productpage-v1',
    source_workload_namespace: 'default',
    source_principal: sourcePrincipal,
    source_app: 'productpage',
    source_version: 'v1',
    source_cluster: 'unknown',
    source_canonical_service: 'productpage',
    source_canonical_revision: 'v1',
    destination_workload: 'reviews-v2',
    destination_workload_namespace: 'default',
    destination_principal: REVIEWS_ID,
    destination_app: 'reviews',
    destination_version: 'v2',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    destination_cluster: 'unknown',
    destination_canonical_service: 'reviews',
    destination_canonical_revision: 'v2',
    request_protocol: 'tcp',
    response_flags: '-',
    connection_security_policy: 'mutual_tls',
  };
}
