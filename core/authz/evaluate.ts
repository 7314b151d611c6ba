/**
 * Istio's decision order for one connection or request (CUSTOM is rejected by
 * the config layer, so it never gets here):
 *   1. any DENY policy matches             -> deny;
 *   2. no ALLOW policy applies             -> allow;
 *   3. any ALLOW policy matches            -> allow;
 *   4. otherwise                           -> deny.
 * AUDIT policies only mark the request as audited. Dry-run policies are
 * evaluated on the side (Decision.dryRun) and never enforced.
 */
import { RequestView } from './request.js';
import type { AuthzRequest, CompiledPolicy, Decision, ShadowDecision, WorkloadPolicies } from './types.js';

interface Match {
  policy: CompiledPolicy;
  rule: number;
}

function firstMatch(view: RequestView, l7: boolean, policies: readonly CompiledPolicy[]): Match | undefined {
  for (const policy of policies) {
    for (const rule of policy.rules) {
      const matches = l7 ? rule.matchL7 : rule.matchL4;
      if (matches?.(view)) return { policy, rule: rule.index };
    }
  }
  return undefined;
}

function verdict(allowed: boolean, reason: string, match?: Match): Decision {
  const d: Decision = { allowed, reason, audit: false };
  if (match) {
    d.policy = match.policy.key;
    d.rule = match.rule;
  }
  return d;
}

// Decisions are built field by field: object spread costs microseconds per call on Node 20.
function decide(view: RequestView, l7: boolean, deny: readonly CompiledPolicy[], allow: readonly CompiledPolicy[]): Decision {
  const denied = firstMatch(view, l7, deny);
  if (denied) return verdict(false, `denied by DENY policy ${denied.policy.key} rule ${denied.rule}`, denied);
  if (allow.length === 0) {
    return verdict(true, deny.length === 0 ? 'no authorization policy applies' : 'no DENY policy matched and no ALLOW policy applies');
  }
  const allowed = firstMatch(view, l7, allow);
  if (allowed) return verdict(true, `allowed by ALLOW policy ${allowed.policy.key} rule ${allowed.rule}`, allowed);
  return verdict(false, `no ALLOW policy matched (${keysOf(allow)})`);
}

const joinedKeys = new WeakMap<readonly CompiledPolicy[], string>();

/** Joined once per policy list, not once per denied request. */
function keysOf(policies: readonly CompiledPolicy[]): string {
  let keys = joinedKeys.get(policies);
  if (keys === undefined) joinedKeys.set(policies, (keys = policies.map((p) => p.key).join(', ')));
  return keys;
}

/** As if the dry-run policies were enforced alongside the others. */
function shadow(view: RequestView, l7: boolean, wp: WorkloadPolicies): ShadowDecision {
  const dry = (action: CompiledPolicy['action']) => wp.dryRun.filter((p) => p.action === action);
  const { allowed, reason, policy, rule } = decide(view, l7, [...wp.deny, ...dry('DENY')], [...wp.allow, ...dry('ALLOW')]);
  const s: ShadowDecision = { allowed, reason };
  if (policy !== undefined) {
    s.policy = policy;
    s.rule = rule;
  }
  return s;
}

/**
 * An L7Request (it has `method`) gets Istio's full semantics; an L4Request
 * gets ztunnel's (see compile.ts): rules needing HTTP attributes are reduced.
 */
export function evaluate(wp: WorkloadPolicies, request: AuthzRequest): Decision {
  const view = new RequestView(request);
  const l7 = view.l7 !== undefined;
  const decision = decide(view, l7, wp.deny, wp.allow);
  const audited = firstMatch(view, l7, wp.audit);
  if (audited) {
    decision.audit = true;
    decision.auditPolicy = audited.policy.key;
  }
  if (!l7 && !wp.atWaypoint && wp.l7Policies.length > 0) decision.needsWaypoint = true;
  if (wp.dryRun.length > 0) decision.dryRun = shadow(view, l7, wp);
  return decision;
}
