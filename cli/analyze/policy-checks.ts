/**
 * `ambit analyze` for AuthorizationPolicy against the live mesh. Which
 * policies bind which workload is asked of the PolicySet the proxies use
 * (forWorkload: ambitd's L4 selection, and atWaypoint for a waypoint's), and
 * principals are matched with the engine's own string matcher and trust
 * domain rewriting, so a finding never disagrees with enforcement:
 *
 * - a principal matching no enrolled identity (nor a waypoint's);
 * - HTTP attributes in a policy ambitd enforces: selector- and
 *   namespace-bound policies are enforced at L4 only (as ztunnel does), where
 *   an ALLOW rule using them matches nothing and a DENY rule is reduced to its
 *   L4 parts (compile.ts);
 * - targetRefs to a service with no waypoint: enforced nowhere;
 * - an ALLOW rule a DENY rule on the same workload makes dead: the DENY rule
 *   is empty (matches every request) or the very same rule.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CompiledPolicy, WorkloadPolicies } from '../../core/authz/index.js';
import { stringSet, withTrustDomains } from '../../core/authz/matchers.js';
import type { TypedResource } from '../../core/config/index.js';
import type { MeshState } from '../../core/mesh/index.js';
import type { EndpointRecord } from '../../core/store/types.js';
import type { Finding } from './findings.js';
import { hasWaypoint } from './routing-checks.js';

type Report = (f: Finding) => void;
type Policy = TypedResource<'AuthorizationPolicy'>;
type Rule = NonNullable<Policy['spec']['rules']>[number];

const SPIFFE = 'spiffe://';
const nameOf = (key: string) => {
  const [namespace = '', name = ''] = key.split('/');
  return { kind: 'AuthorizationPolicy', namespace, name };
};

function workloads(state: MeshState): EndpointRecord[] {
  return state.services().flatMap((s) => s.endpoints);
}

/** Every identity that can present a certificate: enrolled workloads and waypoints, as principals (`td/ns/x/sa/y`). */
function principalsOf(state: MeshState): string[] {
  const ids = new Set<string>();
  for (const s of state.services()) {
    for (const ep of s.endpoints) ids.add(state.identityOf(ep));
    for (const w of state.waypointsFor(s)) ids.add(state.identityOf(w.endpoint));
  }
  return [...ids].map((id) => (id.startsWith(SPIFFE) ? id.slice(SPIFFE.length) : id));
}

export function policyFindings(state: MeshState, trustDomain: string, domain: string, report: Report): void {
  const typed = new Map(state.typed.of('AuthorizationPolicy').map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  unknownPrincipals(state, trustDomain, typed, report);
  const compiled = state.policies.policies.filter((p) => !p.dryRun);
  for (const p of compiled) if (p.scope.kind === 'targets') targetFindings(state, p, domain, report);
  l7AtL4(state, compiled, report);
  shadowed(state, typed, report);
}

function unknownPrincipals(state: MeshState, trustDomain: string, typed: ReadonlyMap<string, Policy>, report: Report): void {
  const known = principalsOf(state);
  for (const [key, p] of typed) {
    const env = { policyNamespace: p.metadata.namespace, trustDomain, trustDomainAliases: [] };
    (p.spec.rules ?? []).forEach((rule, i) =>
      (rule.from ?? []).forEach((f, j) => {
        for (const principal of f.source.principals ?? []) {
          const test = stringSet(withTrustDomains([principal], env));
          if (known.some((id) => test(id))) continue;
          report({
            code: 'EANALYZE_PRINCIPAL_UNKNOWN',
            severity: 'Warning',
            resource: nameOf(key),
            message: `rules[${i}].from[${j}].source.principals: ${principal} matches no enrolled identity, so that part of the rule matches nobody`,
            fix: `write it as ${trustDomain}/ns/NAMESPACE/sa/SERVICE_ACCOUNT of an enrolled workload (ambit get endpoints -A lists them), or enroll the workload it means`,
          });
        }
      }),
    );
  }
}

function targetFindings(state: MeshState, p: CompiledPolicy, domain: string, report: Report): void {
  if (p.scope.kind !== 'targets') return;
  for (const t of p.scope.targets) {
    if (t.kind !== 'Service') continue;
    const service = state.serviceByName(`${t.name}.${p.namespace}.svc.${domain}`);
    if (service && hasWaypoint(state, service)) continue;
    report({
      code: 'EANALYZE_TARGET_NO_WAYPOINT',
      severity: 'Error',
      resource: nameOf(p.key),
      message: service
        ? `targetRefs names Service ${t.name}, which has no ready waypoint: a policy bound with targetRefs is enforced by the waypoint only, so this one is enforced nowhere`
        : `targetRefs names Service ${t.name}, which is not enrolled in namespace ${p.namespace}: the policy is enforced nowhere`,
      fix: service
        ? `attach a waypoint (ambit waypoint attach ${t.name} -n ${p.namespace} --node NODE), or bind with selector.matchLabels so ambitd enforces it at L4`
        : `correct targetRefs[].name, or enroll ${t.name} in ${p.namespace}`,
    });
  }
}

function l7AtL4(state: MeshState, compiled: readonly CompiledPolicy[], report: Report): void {
  const services = new Map<string, Set<string>>();
  for (const ep of workloads(state)) {
    const wp = state.policies.forWorkload({ namespace: ep.namespace, labels: ep.labels, serviceName: ep.service });
    for (const key of wp.l7Policies) {
      let set = services.get(key);
      if (!set) services.set(key, (set = new Set()));
      set.add(`${ep.namespace}/${ep.service}`);
    }
  }
  for (const p of compiled) {
    const on = services.get(p.key);
    if (!on) continue;
    const waypointed = [...on].filter((s) => {
      const [ns, name] = s.split('/');
      const view = state.services().find((v) => v.record.namespace === ns && v.record.name === name);
      return view !== undefined && hasWaypoint(state, view);
    });
    for (const rule of p.rules.filter((r) => r.l7Attributes.length > 0)) {
      const effect =
        p.action === 'ALLOW'
          ? 'this ALLOW rule matches nothing there, so the callers it names are denied'
          : rule.matchL4
            ? `this ${p.action} rule acts on its L4 parts alone, so it matches more connections than written`
            : `this ${p.action} rule has no L4 part left and is not enforced at all`;
      report({
        code: 'EANALYZE_L7_AT_L4',
        severity: 'Warning',
        resource: nameOf(p.key),
        message: `rules[${rule.index}] uses ${rule.l7Attributes.join(', ')}, but the policy binds workloads of ${[...on].sort().join(', ')}, where ambitd enforces it at L4: ${effect}`,
        fix:
          waypointed.length > 0
            ? `bind it to the waypoint with targetRefs (kind: Service, name: ${waypointed[0]!.split('/')[1]}) instead of a selector`
            : `attach a waypoint to the service and bind the policy with targetRefs, or drop ${rule.l7Attributes.join(', ')} from the rule`,
      });
    }
  }
}

/** Istio: a rule with no from, to or when matches every request. */
const matchesAll = (rule: Rule): boolean => !rule.from?.length && !rule.to?.length && !rule.when?.length;

function shadowed(state: MeshState, typed: ReadonlyMap<string, Policy>, report: Report): void {
  const seen = new Set<string>();
  const check = (wp: WorkloadPolicies, where: string) => {
    for (const allow of wp.allow) {
      const allowRules = typed.get(allow.key)?.spec.rules ?? [];
      for (const deny of wp.deny) {
        const denyRules = typed.get(deny.key)?.spec.rules ?? [];
        allowRules.forEach((a, i) => {
          const j = denyRules.findIndex((d) => matchesAll(d) || (deny.namespace === allow.namespace && isDeepStrictEqual(d, a)));
          const id = `${allow.key} ${i} ${deny.key}`;
          if (j < 0 || seen.has(id)) return;
          seen.add(id);
          report({
            code: 'EANALYZE_POLICY_SHADOWED',
            severity: 'Warning',
            resource: nameOf(allow.key),
            message: `rules[${i}] can never allow anything on ${where}: DENY policy ${deny.key} rules[${j}] ${matchesAll(denyRules[j]!) ? 'matches every request' : 'is the same rule'}, and DENY is decided first`,
            fix: `narrow or delete ${deny.key} rules[${j}], or delete this rule`,
          });
        });
      }
    }
  };
  for (const ep of workloads(state)) {
    check(state.policies.forWorkload({ namespace: ep.namespace, labels: ep.labels, serviceName: ep.service }), `${ep.namespace}/${ep.service} (ambitd, L4)`);
  }
  for (const s of state.services()) {
    if (hasWaypoint(state, s)) {
      check(state.policies.forWorkload({ namespace: s.record.namespace, serviceName: s.record.name, atWaypoint: true }), `the waypoint of ${s.fqdn}`);
    }
  }
}
