/**
 * The gates an HTTP request passes on its way to the router, in Envoy's
 * filter order around the route decision (route.ts):
 *
 * - JWT first (RequestAuthentication, authn/): an invalid token is answered
 *   401; a valid one gives RBAC its request principal and claims.
 * - Then the browser login (OidcLogin, oidc/), for requests no JWT
 *   authenticated: a session gives RBAC the ID token's principal and claims
 *   in the same shape; without one a protected path is answered 302 or 401.
 * - RBAC next: the served service's L7 AuthorizationPolicies, before any
 *   routing, so a denied caller is answered 403 whatever the routes say and
 *   learns nothing of them. The policy that decided is kept for the log.
 * - The route's fault filter last: both dice are rolled up front (delay,
 *   abort, each with its own percentage), the delay is served, then the
 *   abort answers. A client that leaves during the delay ends the request
 *   there: nobody is left to answer, and nothing is forwarded.
 *
 * Time and the client are passed in, so each gate's outcome is a value.
 */
import { evaluate, type L7Request, type WorkloadPolicies } from '../core/authz/index.js';
import { replies, type LocalReply } from './replies.js';
import type { RequestAttributes } from './route.js';
import { injectFault, type FaultPolicy } from '../core/routing/index.js';

export interface Authorization {
  allowed: boolean;
  /** The policy whose rule decided, if one did. */
  policy: string | undefined;
}

/** What RequestAuthentication established; both undefined for a request without a token. */
export interface Authentication {
  principal: string | undefined;
  claims: Readonly<Record<string, unknown>> | undefined;
}

/** The served service's policies (undefined: none apply) on the request to its VIP `destinationIp`. */
export function authorize(policies: WorkloadPolicies | undefined, a: RequestAttributes, destinationIp: string, authn?: Authentication): Authorization {
  if (!policies) return { allowed: true, policy: undefined };
  const l7: L7Request = {
    sourcePrincipal: a.caller.principal,
    sourceIp: a.caller.address,
    destinationIp,
    destinationPort: a.port,
    method: a.method,
    path: a.path,
    host: a.host,
    headers: a.headers,
    ...(authn?.principal !== undefined ? { requestPrincipal: authn.principal } : {}),
    ...(authn?.claims !== undefined ? { claims: authn.claims } : {}),
  };
  const d = evaluate(policies, l7);
  return { allowed: d.allowed, policy: d.policy };
}

export type FaultOutcome = { kind: 'pass' } | { kind: 'reply'; reply: LocalReply } | { kind: 'gone' };

export interface FaultDeps {
  rng: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Whether the client left (checked after a delay). */
  clientGone: () => boolean;
}

export async function applyFault(fault: FaultPolicy | undefined, deps: FaultDeps): Promise<FaultOutcome> {
  const f = injectFault(fault, deps.rng);
  if (f.delayMs > 0) {
    await deps.sleep(f.delayMs);
    if (deps.clientGone()) return { kind: 'gone' };
  }
  return f.abortStatus === undefined ? { kind: 'pass' } : { kind: 'reply', reply: replies.fault(f.abortStatus) };
}
