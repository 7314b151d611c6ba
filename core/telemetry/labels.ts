/**
 * Istio's standard metric labels, built in one place for ambitd (reporter
 * source and destination) and the waypoint (reporter waypoint), so a Grafana
 * or Kiali query written for Istio reads ambit's istio_* series unchanged:
 * every label present, "unknown" where Istio reports it so.
 *
 * Invariants:
 * - A label set is built once per connection (TCP) or request (HTTP) from
 *   typed inputs and frozen; what records the close uses that same object,
 *   so istio_tcp_connections_opened_total - istio_tcp_connections_closed_total
 *   falls back to 0 on every series once the connections close.
 * - The TCP set is the HTTP set without response_code and
 *   grpc_response_status: Istio's TCP metrics carry no response.
 * - Pure: no state lookups here. The caller resolves the workloads, the
 *   service and the principals (core/mesh) and passes them in.
 *
 * Workload naming (ambit has no Deployments): an enrolled endpoint's
 * workload is `<service>-<version>` when it has a version label (the name
 * Bookinfo's Kubernetes Deployments have, reviews-v2), else `<service>`.
 * Canonical service and revision follow Istio's label precedence, falling
 * back to the enrolled service and "latest"; source_app/destination_app and
 * *_version are the canonical service and revision, as Istio ambient reports
 * them. ambit is one cluster with no cluster name, so *_cluster is "unknown".
 */

export const UNKNOWN = 'unknown';

export type Reporter = 'source' | 'destination' | 'waypoint';
export type RequestProtocol = 'http' | 'grpc' | 'tcp';
export type SecurityPolicy = 'mutual_tls' | 'none' | 'unknown';

/** Labels of Istio's istio_tcp_* metrics, in Istio's order. */
export const TCP_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'source_canonical_service',
  'source_canonical_revision',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'destination_canonical_service',
  'destination_canonical_revision',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
] as const;

/** Labels of Istio's HTTP/gRPC metrics (istio_requests_total and its histograms). */
export const REQUEST_LABELS = [...TCP_LABELS, 'response_code', 'grpc_response_status'] as const;

export type TcpLabelName = (typeof TCP_LABELS)[number];
export type RequestLabelName = (typeof REQUEST_LABELS)[number];
export type TcpLabels = Readonly<Record<TcpLabelName, string>>;
export type RequestLabels = Readonly<Record<RequestLabelName, string>>;

/** A workload as the mesh records it: an enrolled endpoint or a WorkloadEntry (EndpointRecord fits). */
export interface WorkloadFacts {
  /** The enrolled service (a WorkloadEntry's: its ServiceEntry's name). */
  service: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** The service a connection or request was addressed to. */
export interface ServiceFacts {
  /** Its host: `reviews.default.svc.cluster.local`, or a ServiceEntry host. */
  host: string;
  /** `reviews`; for a ServiceEntry host, the host itself, as Istio names it. */
  name: string;
  namespace: string;
}

/** One side of the traffic. The principal is the verified SPIFFE ID; the workload what the mesh knows of it. */
export interface PartyFacts {
  principal?: string;
  workload?: WorkloadFacts;
}

/** What one connection's labels are built from, resolved by the caller when the connection opens. */
export interface TrafficFacts {
  reporter: Reporter;
  source: PartyFacts;
  destination: PartyFacts;
  service?: ServiceFacts;
  securityPolicy: SecurityPolicy;
}

/** How one HTTP request ended. */
export interface RequestOutcome {
  protocol: 'http' | 'grpc';
  /** 0 when the client got no answer (it left first). */
  responseCode: number;
  /** grpc-status of a gRPC answer; absent otherwise. */
  grpcStatus?: string;
  /** Envoy's response flags; '-' when nothing went wrong. */
  responseFlags: string;
}

// Istio's precedence for a workload's canonical service and revision.
const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'] as const;
const CANONICAL_REVISION_LABELS = ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version'] as const;

const firstLabel = (labels: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined => {
  for (const k of keys) {
    const v = labels[k];
    if (v) return v;
  }
  return undefined;
};

/** A workload's Istio names: workload, canonical service and revision. */
export function workloadNames(w: WorkloadFacts): { workload: string; canonicalService: string; canonicalRevision: string } {
  const revision = firstLabel(w.labels, CANONICAL_REVISION_LABELS);
  return {
    workload: revision ? `${w.service}-${revision}` : w.service,
    canonicalService: firstLabel(w.labels, CANONICAL_NAME_LABELS) ?? w.service,
    canonicalRevision: revision ?? 'latest',
  };
}

/** The namespace of a workload SPIFFE ID (`…/ns/<ns>/sa/<sa>`): all Istio knows of a caller the mesh has no record of. */
export function principalNamespace(principal: string | undefined): string | undefined {
  return principal ? /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal)?.[1] : undefined;
}

type Side = 'source' | 'destination';

function party(side: Side, p: PartyFacts): Record<`${Side}_${string}`, string> {
  const names = p.workload && workloadNames(p.workload);
  return {
    [`${side}_workload`]: names?.workload ?? UNKNOWN,
    [`${side}_workload_namespace`]: p.workload?.namespace ?? principalNamespace(p.principal) ?? UNKNOWN,
    [`${side}_principal`]: p.principal ?? UNKNOWN,
    [`${side}_app`]: names?.canonicalService ?? UNKNOWN,
    [`${side}_version`]: names?.canonicalRevision ?? UNKNOWN,
    [`${side}_cluster`]: UNKNOWN,
    [`${side}_canonical_service`]: names?.canonicalService ?? UNKNOWN,
    [`${side}_canonical_revision`]: names?.canonicalRevision ?? UNKNOWN,
  };
}

function common(f: TrafficFacts, protocol: RequestProtocol, responseFlags: string): TcpLabels {
  return {
    reporter: f.reporter,
    ...party('source', f.source),
    ...party('destination', f.destination),
    destination_service: f.service?.host ?? UNKNOWN,
    destination_service_name: f.service?.name ?? UNKNOWN,
    destination_service_namespace: f.service?.namespace ?? UNKNOWN,
    request_protocol: protocol,
    response_flags: responseFlags,
    connection_security_policy: f.securityPolicy,
  } as TcpLabels;
}

/** The labels of one TCP connection, for its open, its close and its bytes alike. */
export function tcpLabels(facts: TrafficFacts, responseFlags = '-'): TcpLabels {
  return Object.freeze(common(facts, 'tcp', responseFlags));
}

/** The labels of one HTTP or gRPC request, once it has ended. */
export function requestLabels(facts: TrafficFacts, outcome: RequestOutcome): RequestLabels {
  return Object.freeze({
    ...common(facts, outcome.protocol, outcome.responseFlags),
    response_code: String(outcome.responseCode),
    grpc_response_status: outcome.protocol === 'grpc' ? (outcome.grpcStatus ?? UNKNOWN) : '',
  });
}
