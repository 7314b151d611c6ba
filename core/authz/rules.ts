/**
 * One AuthorizationPolicy rule to predicates. A rule is clauses ANDed: its
 * `from` list, its `to` list and each `when` condition. A clause matches when
 * ANY of its entries does; an entry (one source, one operation, one condition)
 * when ALL of its field checks do. A rule with no clauses (`{}`) matches
 * everything.
 *
 * Every rule gets two forms. matchL7 is Istio's full semantics (the waypoint,
 * as Envoy's RBAC filter). matchL4 is what ztunnel enforces (the daemon),
 * read from istiod's ambient conversion (pilot .../ambient/authorization.go)
 * and ztunnel's src/rbac.rs:
 *  - ALLOW: a rule using any HTTP attribute is dropped, so it never matches
 *    ("rules matching HTTP attributes are omitted").
 *  - DENY: the HTTP attributes are removed and the rule matches on its L4
 *    remainder. An entry left with no L4 field becomes an empty match, which
 *    ztunnel never matches; so a `when` on an HTTP key, or a source/operation
 *    made only of HTTP fields, keeps the rule from ever matching at L4. A DENY
 *    policy of HTTP attributes only is thus a no-op without a waypoint
 *    (istio/istio#61126, fixed in istiod's status text by #61166), not the
 *    blanket deny Envoy's TCP filter would apply.
 *  - AUDIT: ztunnel refuses the action; ambit audits at L4 with DENY's
 *    reduction, since an audit never changes the decision.
 */
import type { Condition, Rule } from '../config/index.js';
import { conditionAttribute } from './conditions.js';
import { AuthzError } from './errors.js';
import * as m from './matchers.js';
import type { AttributeMatcher, MatchEnv } from './matchers.js';
import type { CompiledRule, PolicyAction, Predicate } from './types.js';

interface Check {
  attribute: string;
  l4: boolean;
  test: Predicate;
}
type Entry = Check[];
type Clause = Entry[];

type FieldTable = readonly (readonly [field: string, notField: string, matcher: AttributeMatcher, l4: boolean])[];

/** Which Source/Operation fields ztunnel can evaluate (pilot's httpSources/httpOperations list the others). */
const SOURCE_FIELDS: FieldTable = [
  ['principals', 'notPrincipals', m.principals, true],
  ['requestPrincipals', 'notRequestPrincipals', m.requestPrincipals, false],
  ['namespaces', 'notNamespaces', m.namespaces, true],
  ['serviceAccounts', 'notServiceAccounts', m.serviceAccounts, true],
  ['ipBlocks', 'notIpBlocks', m.sourceIps, true],
  ['remoteIpBlocks', 'notRemoteIpBlocks', m.remoteIps, false],
];
const OPERATION_FIELDS: FieldTable = [
  ['hosts', 'notHosts', m.hosts, false],
  ['ports', 'notPorts', m.ports, true],
  ['methods', 'notMethods', m.methods, false],
  ['paths', 'notPaths', m.paths, false],
];

const always: Predicate = () => true;

function allOf(tests: Predicate[]): Predicate {
  if (tests.length === 0) return always;
  if (tests.length === 1) return tests[0]!;
  return (r) => {
    for (const t of tests) if (!t(r)) return false;
    return true;
  };
}

function anyOf(tests: Predicate[]): Predicate {
  if (tests.length === 1) return tests[0]!;
  return (r) => {
    for (const t of tests) if (t(r)) return true;
    return false;
  };
}

/** `values` ORed; `notValues` is the negation of the same OR. An empty list is no check (Istio skips it). */
function fieldChecks(
  names: readonly [string, string],
  values: readonly string[] | undefined,
  notValues: readonly string[] | undefined,
  matcher: AttributeMatcher,
  l4: boolean,
  env: MatchEnv,
): Check[] {
  const checks: Check[] = [];
  if (values?.length) checks.push({ attribute: names[0], l4, test: matcher(values, env) });
  if (notValues?.length) {
    const test = matcher(notValues, env);
    checks.push({ attribute: names[1], l4, test: (r) => !test(r) });
  }
  return checks;
}

function tableEntry(table: FieldTable, fields: object, env: MatchEnv): Entry {
  const f = fields as Record<string, readonly string[] | undefined>;
  return table.flatMap(([name, notName, matcher, l4]) => fieldChecks([name, notName], f[name], f[notName], matcher, l4, env));
}

function conditionEntry(c: Condition, env: MatchEnv): Entry {
  const attr = conditionAttribute(c.key);
  if (!attr) throw new AuthzError('EAUTHZ_CONDITION_KEY', `unknown condition key ${JSON.stringify(c.key)}`, { key: c.key });
  return fieldChecks([c.key, c.key], c.values, c.notValues, attr.matcher, attr.l4, env);
}

/** Runs `build`, prefixing where in the policy an AuthzError came from. */
export function at<T>(where: string, build: () => T, context: Record<string, unknown> = {}): T {
  try {
    return build();
  } catch (err) {
    if (!(err instanceof AuthzError)) throw err;
    throw new AuthzError(err.code, `${where}: ${err.message}`, { ...err.context, ...context }, { cause: err });
  }
}

function ruleClauses(rule: Rule, env: MatchEnv, where: string): Clause[] {
  const clauses: Clause[] = [];
  if (rule.from?.length) clauses.push(rule.from.map((f, i) => at(`${where}.from[${i}].source`, () => tableEntry(SOURCE_FIELDS, f.source, env))));
  if (rule.to?.length) clauses.push(rule.to.map((t, i) => at(`${where}.to[${i}].operation`, () => tableEntry(OPERATION_FIELDS, t.operation, env))));
  rule.when?.forEach((c, i) => clauses.push([at(`${where}.when[${i}]`, () => conditionEntry(c, env))]));
  return clauses;
}

function matchAll(clauses: Clause[]): Predicate {
  return allOf(clauses.map((clause) => anyOf(clause.map((entry) => allOf(entry.map((c) => c.test))))));
}

/** ztunnel's form (see the file comment); undefined when the rule can never match at L4. */
function matchL4(clauses: Clause[], action: PolicyAction, usesL7: boolean): Predicate | undefined {
  if (action === 'ALLOW' && usesL7) return undefined;
  const reduced: Clause[] = [];
  for (const clause of clauses) {
    const entries = clause.map((entry) => entry.filter((c) => c.l4)).filter((entry) => entry.length > 0);
    if (entries.length === 0) return undefined;
    reduced.push(entries);
  }
  return matchAll(reduced);
}

export function compileRule(rule: Rule, index: number, action: PolicyAction, env: MatchEnv, where: string): CompiledRule {
  const clauses = ruleClauses(rule, env, `${where}[${index}]`);
  const l7Attributes = [
    ...new Set(
      clauses
        .flat(2)
        .filter((c) => !c.l4)
        .map((c) => c.attribute),
    ),
  ].sort();
  return { index, matchL7: matchAll(clauses), matchL4: matchL4(clauses, action, l7Attributes.length > 0), l7Attributes };
}
