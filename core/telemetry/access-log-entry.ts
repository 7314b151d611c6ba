/**
 * One finished request as a waypoint records it: the fields of Envoy's default
 * access log that an operator greps for (response flags, upstream host and
 * cluster, route, request id), plus the caller's verified identity and, with
 * tracing on, the trace and span ids of the request (sampled or not). The
 * waypoint logs it (waypoint/access-log.ts) and streams it to `ambit tap`,
 * which reads this same type.
 */
export interface AccessLogEntry {
  start_time: string;
  method: string;
  path: string;
  protocol: string;
  authority: string;
  response_code: number;
  response_flags: string;
  duration_ms: number;
  attempts: number;
  upstream_host: string | undefined;
  upstream_cluster: string | undefined;
  route_name: string | undefined;
  source_principal: string;
  source_address: string;
  destination_service: string;
  request_id: string;
  authz_policy?: string | undefined;
  /** The request's trace and its SERVER span (join with the tracing backend); absent with tracing off. */
  trace_id?: string | undefined;
  span_id?: string | undefined;
}
