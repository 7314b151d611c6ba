/**
 * AuthorizationPolicy engine shared by the daemon (L4) and the waypoint (L7).
 *
 *   const set = compilePolicies(snapshotResources, { rootNamespace, trustDomain });
 *   const wp = set.forWorkload({ namespace, labels });                     // daemon
 *   const wp = set.forWorkload({ namespace, serviceName, atWaypoint: true }); // waypoint
 *   const decision = evaluate(wp, request);   // per connection / request
 */
export {
  compilePolicies,
  compilePolicy,
  compileTypedPolicies,
  compileTypedPolicy,
  authorizationPolicyProblem,
  DEFAULT_ROOT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  type CompileOptions,
} from './compile.js';
export { DRY_RUN_ANNOTATION, scopeOf, targetsService } from './binding.js';
export { PolicySet, appliesTo, type WorkloadInfo } from './select.js';
export { evaluate } from './evaluate.js';
export { AuthzError, AuthzErrors, type AuthzErrorCode } from './errors.js';
export { isPathTemplate, pathTemplateProblem, compilePathTemplate } from './path-template.js';
export { isL7 } from './request.js';
export type * from './types.js';
