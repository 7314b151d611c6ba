/**
 * AuthorizationPolicy resources to compiled policies, once per config
 * snapshot: the typed spec, its rules (rules.ts), its binding (binding.ts).
 * A policy with no rules matches nothing (Istio's allow-nothing).
 */
import { ConfigErrors } from '../errors.js';
import { normalize, type Resource, type TypedResource } from '../config/index.js';
import { dryRunOf, scopeOf } from './binding.js';
import { AuthzError, AuthzErrors } from './errors.js';
import type { MatchEnv } from './matchers.js';
import { at, compileRule } from './rules.js';
import { PolicySet } from './select.js';
import type { CompiledPolicy } from './types.js';

export const DEFAULT_ROOT_NAMESPACE = 'istio-system';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface CompileOptions {
  /** Policies here without a selector apply mesh-wide (Istio's meshConfig.rootNamespace). */
  rootNamespace?: string;
  trustDomain?: string;
  /** Former trust domains still accepted in principals (Istio's trustDomainAliases). */
  trustDomainAliases?: readonly string[];
}

/** The typed form of a stored policy (the mesh state has it already; `ambit apply` and tests do not). */
function typedPolicy(resource: Resource, label: string): TypedResource<'AuthorizationPolicy'> {
  if (resource.kind !== 'AuthorizationPolicy') {
    throw new AuthzError('EAUTHZ_NOT_A_POLICY', `${resource.kind} ${label} is not an AuthorizationPolicy`, { kind: resource.kind });
  }
  try {
    return normalize(resource) as TypedResource<'AuthorizationPolicy'>;
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    throw new AuthzError('EAUTHZ_INVALID_SPEC', err.message, { policy: label }, { cause: err });
  }
}

/** One policy; throws AuthzError naming the policy and the rule at fault. */
export function compilePolicy(resource: Resource, opts: CompileOptions = {}): CompiledPolicy {
  return compileTypedPolicy(typedPolicy(resource, `${resource.metadata.namespace}/${resource.metadata.name}`), opts);
}

/** One policy already in typed form (parsed once per snapshot by core/mesh). */
export function compileTypedPolicy(resource: TypedResource<'AuthorizationPolicy'>, opts: CompileOptions = {}): CompiledPolicy {
  const { namespace, name } = resource.metadata;
  const key = `${namespace}/${name}`;
  const spec = resource.spec;
  const action = spec.action ?? 'ALLOW';
  const env: MatchEnv = {
    policyNamespace: namespace,
    trustDomain: opts.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    trustDomainAliases: opts.trustDomainAliases ?? [],
  };
  const warnings: string[] = [];
  return at(
    `AuthorizationPolicy ${key}`,
    () => {
      const rules = (spec.rules ?? []).map((rule, i) => compileRule(rule, i, action, env, 'rules'));
      const l7Attributes = [...new Set(rules.flatMap((r) => r.l7Attributes))].sort();
      if (l7Attributes.some((a) => a.startsWith('experimental.envoy.filters.'))) {
        warnings.push('experimental.envoy.filters.* conditions read Envoy filter metadata, which ambit never has: values never match, notValues always do');
      }
      const scope = scopeOf(spec, namespace, opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE, warnings);
      return { key, namespace, name, action, dryRun: dryRunOf(resource), scope, rules, l7Attributes, warnings };
    },
    { policy: key },
  );
}

/**
 * Every AuthorizationPolicy of a snapshot (other kinds are skipped). Throws
 * AuthzErrors listing every invalid policy, so a process keeps its last good set.
 */
export function compilePolicies(resources: readonly Resource[], opts: CompileOptions = {}): PolicySet {
  return compileAll(
    resources.filter((r) => r.kind === 'AuthorizationPolicy'),
    (r) => compilePolicy(r, opts),
    opts,
  );
}

/** Every policy of a snapshot already in typed form; throws AuthzErrors as compilePolicies does. */
export function compileTypedPolicies(resources: readonly TypedResource<'AuthorizationPolicy'>[], opts: CompileOptions = {}): PolicySet {
  return compileAll(resources, (r) => compileTypedPolicy(r, opts), opts);
}

function compileAll<R>(resources: readonly R[], compile: (r: R) => CompiledPolicy, opts: CompileOptions): PolicySet {
  const compiled: CompiledPolicy[] = [];
  const errors: AuthzError[] = [];
  for (const resource of resources) {
    try {
      compiled.push(compile(resource));
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AuthzErrors(errors);
  return new PolicySet(compiled, opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE);
}

/** For `ambit apply`: what would stop this policy from compiling, if anything. */
export function authorizationPolicyProblem(resource: Resource, opts: CompileOptions = {}): AuthzError | undefined {
  try {
    compilePolicy(resource, opts);
    return undefined;
  } catch (err) {
    if (err instanceof AuthzError) return err;
    throw err;
  }
}
