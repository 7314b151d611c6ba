/**
 * AuthorizationPolicy (security.istio.io): ALLOW / DENY / AUDIT rules the
 * daemon enforces at L4 and waypoints at L7. CUSTOM (external authorizers) is
 * not implemented and is rejected rather than silently allowing traffic.
 */
import { Codes, array, enumOf, object, refine, req, string, type Cursor, type Schema } from '../schema.js';
import { isIpOrCidr } from '../net.js';
import { ipOrCidr, onePolicyTarget, policyTargetShape, portStringProblem, strings, type PolicyTarget } from './common.js';

export interface Source {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  /** `ns/sa` or `sa` (in the policy's namespace). */
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  /** Port numbers as strings, as Istio writes them. */
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface Rule {
  from?: { source: Source }[];
  to?: { operation: Operation }[];
  when?: Condition[];
}

export interface AuthorizationPolicySpec extends PolicyTarget {
  /** Absent means ALLOW. */
  action?: 'ALLOW' | 'DENY' | 'AUDIT';
  rules?: Rule[];
}

function notEmpty(value: object, at: Cursor): void {
  if (Object.keys(value).length === 0) at.fail(Codes.value, 'must set at least one field');
}

const ipBlocks = () => array(ipOrCidr());
const ports = () => array(refine(string(), portStringProblem));

const source = (): Schema<Source> =>
  object<Source>(
    {
      principals: strings(),
      notPrincipals: strings(),
      requestPrincipals: strings(),
      notRequestPrincipals: strings(),
      namespaces: strings(),
      notNamespaces: strings(),
      serviceAccounts: strings(),
      notServiceAccounts: strings(),
      ipBlocks: ipBlocks(),
      notIpBlocks: ipBlocks(),
      remoteIpBlocks: ipBlocks(),
      notRemoteIpBlocks: ipBlocks(),
    },
    { check: notEmpty },
  );

const operation = (): Schema<Operation> =>
  object<Operation>(
    {
      hosts: strings(),
      notHosts: strings(),
      ports: ports(),
      notPorts: ports(),
      methods: strings(),
      notMethods: strings(),
      paths: strings(),
      notPaths: strings(),
    },
    { check: notEmpty },
  );

/** Condition keys Istio defines, and how their values must look. */
const IP_KEYS = new Set(['source.ip', 'remote.ip', 'destination.ip']);
const PLAIN_KEYS = new Set([
  ...IP_KEYS,
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.port',
  'connection.sni',
]);
const INDEXED_KEYS = /^(request\.headers|request\.auth\.claims)(\[[^\][]+\])+$/;

function conditionKeyProblem(key: string): string | undefined {
  if (PLAIN_KEYS.has(key) || INDEXED_KEYS.test(key) || key.startsWith('experimental.envoy.filters.')) return undefined;
  return `unknown condition key ${JSON.stringify(key)}`;
}

function conditionValues(c: Condition, at: Cursor): void {
  if (!c.values && !c.notValues) at.fail(Codes.required, 'one of values, notValues is required');
  const problem = IP_KEYS.has(c.key)
    ? (v: string) => (isIpOrCidr(v) ? undefined : `${JSON.stringify(v)} is not an IP address or CIDR range`)
    : c.key === 'destination.port'
      ? portStringProblem
      : undefined;
  if (!problem) return;
  for (const field of ['values', 'notValues'] as const) {
    c[field]?.forEach((v, i) => {
      const p = problem(v);
      if (p) at.at(field).at(i).fail(Codes.value, p);
    });
  }
}

const condition = (): Schema<Condition> =>
  object<Condition>({ key: req(refine(string(), conditionKeyProblem)), values: strings(), notValues: strings() }, { check: conditionValues });

const rule = (): Schema<Rule> =>
  object<Rule>({
    from: array(object<{ source: Source }>({ source: req(source()) })),
    to: array(object<{ operation: Operation }>({ operation: req(operation()) })),
    when: array(condition()),
  });

export const authorizationPolicySpec = (): Schema<AuthorizationPolicySpec> =>
  object<AuthorizationPolicySpec>(
    {
      ...policyTargetShape(),
      action: enumOf(['ALLOW', 'DENY', 'AUDIT'], ['CUSTOM']),
      rules: array(rule()),
    },
    {
      check: onePolicyTarget<AuthorizationPolicySpec>(),
      unsupported: { provider: 'CUSTOM authorization (external authorizers) is not implemented' },
    },
  );
