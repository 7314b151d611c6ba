/**
 * The shapes the authorization engine takes and returns. The daemon builds an
 * L4Request per inbound connection, the waypoint an L7Request per HTTP request;
 * both are evaluated against the same compiled policies.
 */
import type { RequestView } from './request.js';

export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT';

/** What the daemon knows about a connection. */
export interface L4Request {
  /**
   * The peer's verified SPIFFE identity, `<trust-domain>/ns/<ns>/sa/<sa>`
   * (a leading `spiffe://` is accepted and ignored); undefined for plaintext.
   */
  sourcePrincipal?: string;
  /**
   * Namespace of the verified identity. The principal's `ns` segment wins when
   * it has one; ignored without a sourcePrincipal (plaintext has no namespace).
   */
  sourceNamespace?: string;
  sourceIp: string;
  destinationIp: string;
  destinationPort: number;
  /** TLS SNI of the connection, when there is one. */
  sni?: string;
}

/** What the waypoint knows about an HTTP request. */
export interface L7Request extends L4Request {
  method: string;
  /**
   * The request path as Envoy's RBAC sees it: already normalized by the proxy
   * (Istio normalizes before authorization); a query or fragment is ignored.
   */
  path: string;
  /** The Host / :authority exactly as received, port included when sent. */
  host: string;
  /** Header names lower-case; repeated headers as arrays (joined with ","). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Original client address (X-Forwarded-For / PROXY); defaults to sourceIp. */
  remoteIp?: string;
  /** `iss/sub` of a validated JWT. */
  requestPrincipal?: string;
  /** Payload of the validated JWT (request.auth.claims[...]). */
  claims?: Readonly<Record<string, unknown>>;
  /** Defaults to claims.aud. */
  audiences?: readonly string[];
  /** Defaults to claims.azp. */
  presenter?: string;
}

export type AuthzRequest = L4Request | L7Request;

export interface Decision {
  allowed: boolean;
  /** One line for the access log. */
  reason: string;
  /** `namespace/name` of the policy that decided, if one did. */
  policy?: string;
  /** Index of the deciding rule in that policy's `rules`. */
  rule?: number;
  /** An AUDIT policy matched: log this request/connection as audited. */
  audit: boolean;
  /** `namespace/name` of the first matching AUDIT policy. */
  auditPolicy?: string;
  /**
   * Evaluated at L4 while an applicable policy uses HTTP attributes: the L4
   * result follows ztunnel's reduction of those rules and the policy needs a
   * waypoint to be enforced as written.
   */
  needsWaypoint?: boolean;
  /**
   * Present when dry-run (`istio.io/dry-run: "true"`) policies apply: what the
   * decision would have been had they been enforced. Log it; never enforce it.
   */
  dryRun?: ShadowDecision;
}

export type ShadowDecision = Pick<Decision, 'allowed' | 'reason' | 'policy' | 'rule'>;

/** A compiled test over one request; built once per config snapshot. */
export type Predicate = (request: RequestView) => boolean;

export interface CompiledRule {
  index: number;
  /** Full Istio semantics (the waypoint). */
  matchL7: Predicate;
  /** ztunnel's semantics (the daemon); undefined: the rule never matches at L4. */
  matchL4: Predicate | undefined;
  /** HTTP-only attributes this rule uses, as Istio names them in its status. */
  l7Attributes: readonly string[];
}

/** Where a policy binds, after Istio's selection rules. */
export type PolicyScope =
  | { kind: 'mesh' }
  | { kind: 'namespace' }
  | { kind: 'selector'; matchLabels: Readonly<Record<string, string>> }
  | { kind: 'targets'; targets: readonly PolicyTarget[] };

export interface PolicyTarget {
  kind: 'Service' | 'ServiceEntry' | 'Gateway';
  name: string;
}

export interface CompiledPolicy {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  action: PolicyAction;
  dryRun: boolean;
  scope: PolicyScope;
  rules: readonly CompiledRule[];
  /** Sorted union of the rules' HTTP-only attributes (what ztunnel warns about). */
  l7Attributes: readonly string[];
  /** Things the compiler accepted but that cannot take effect, for `ambit doctor`. */
  warnings: readonly string[];
}

/** The policies that apply to one workload (or one waypoint service), by role. */
export interface WorkloadPolicies {
  atWaypoint: boolean;
  deny: readonly CompiledPolicy[];
  allow: readonly CompiledPolicy[];
  audit: readonly CompiledPolicy[];
  /** Dry-run policies of any action: evaluated only for Decision.dryRun. */
  dryRun: readonly CompiledPolicy[];
  /** Keys of enforced policies that use HTTP attributes; at L4 they need a waypoint. */
  l7Policies: readonly string[];
}
