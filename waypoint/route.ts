/**
 * The waypoint's routing decision for one HTTP request, a pure function in
 * the manner of ztunnel's `build_request`: the request's attributes and its
 * verified caller, read against one snapshot's compiled routes, give
 * exactly one outcome, and the I/O around it (router.ts) only carries it out.
 *
 * - forward: the matched route (or Istio's default route, for a service with
 *   no applicable VirtualService) and its destination cluster's policy.
 * - reply: a local answer, with Envoy's status and response flag: 404 NR when
 *   a VirtualService applies but none of its routes match, the route's
 *   directResponse or redirect, or 503 NC when the route names a subset no
 *   DestinationRule defines (Envoy has no such cluster). Only that last one
 *   keeps the route, for the access log's route name and cluster.
 *
 * No state and no I/O: the caller's workload labels come from the view and
 * weighted picks read the injected rng, so one input always routes the same.
 * Authorization runs before this and faults after it (admission.ts).
 */
import { namespaceOf, type Caller } from './caller.js';
import { replies, type LocalReply } from './replies.js';
import type { DestinationPolicy, ForwardDecision, RequestHeaders, RouteTable } from '../core/routing/index.js';

/** What routing reads of one request. */
export interface RequestAttributes {
  /** :authority or Host as received, with or without a port. */
  host: string;
  /** :path or the request target, query included. */
  path: string;
  method: string;
  headers: RequestHeaders;
  caller: Caller;
  /** FQDN of the served service the caller dialed (its VIP told us). */
  service: string;
  /** The service port dialed. */
  port: number;
}

/** What routing reads of a snapshot; a WaypointConfig is one. */
export interface RoutingView {
  readonly routes: Pick<RouteTable, 'route'>;
  /** The labels of the workload behind a verified caller (VirtualService `sourceLabels`). */
  sourceLabels(principal: string, address: string): Readonly<Record<string, string>> | undefined;
}

export type Route =
  { kind: 'forward'; decision: ForwardDecision; policy: DestinationPolicy } | { kind: 'reply'; reply: LocalReply; decision: ForwardDecision | undefined };

export function route(a: RequestAttributes, view: RoutingView, rng: () => number): Route {
  const d = view.routes.route(
    {
      host: a.host,
      port: a.port,
      method: a.method,
      path: a.path,
      headers: a.headers,
      service: a.service,
      sourceNamespace: namespaceOf(a.caller.principal),
      sourceIp: a.caller.address,
      sourceLabels: view.sourceLabels(a.caller.principal, a.caller.address),
    },
    rng,
  );
  switch (d.kind) {
    case 'notFound':
      return { kind: 'reply', reply: replies.notFound(), decision: undefined };
    case 'direct':
      return { kind: 'reply', reply: replies.direct(d.status, d.body), decision: undefined };
    case 'redirect':
      return { kind: 'reply', reply: replies.redirect(d.status, d.location), decision: undefined };
    case 'route':
      return d.policy ? { kind: 'forward', decision: d, policy: d.policy } : { kind: 'reply', reply: replies.noCluster(), decision: d };
  }
}
