/** Builders shared by the authz-*.test.ts files: policies, requests, one-call decisions. */
import { compilePolicies, evaluate, type CompileOptions, type Decision, type L4Request, type L7Request, type WorkloadInfo } from '../../core/authz/index.js';
import type { Resource } from '../../core/config/index.js';
import { RequestView } from '../../core/authz/request.js';

export interface PolicyMeta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
}

export function ap(spec: object, meta: PolicyMeta = {}): Resource {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: {
      name: meta.name ?? 'p',
      namespace: meta.namespace ?? 'foo',
      ...(meta.annotations ? { annotations: meta.annotations } : {}),
    },
    spec: spec as Record<string, unknown>,
  };
}

/** A connection from foo/sleep to a workload in foo. */
export function l4(over: Partial<L4Request> = {}): L4Request {
  return {
    sourcePrincipal: 'cluster.local/ns/foo/sa/sleep',
    sourceIp: '10.1.0.1',
    destinationIp: '10.2.0.1',
    destinationPort: 8080,
    ...over,
  };
}

export function plaintext(over: Partial<L4Request> = {}): L4Request {
  const { sourcePrincipal: _, ...rest } = l4(over);
  return over.sourcePrincipal === undefined ? rest : { ...rest, sourcePrincipal: over.sourcePrincipal };
}

export function l7(over: Partial<L7Request> = {}): L7Request {
  return { ...l4(), method: 'GET', path: '/', host: 'httpbin.foo', headers: {}, ...over };
}

export const HTTPBIN: WorkloadInfo = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };

/** Compile `resources`, select for `workload` (httpbin v1 in foo), evaluate `request`. */
export function decide(
  resources: Resource | Resource[],
  request: L4Request | L7Request,
  workload: WorkloadInfo = HTTPBIN,
  opts: CompileOptions = {},
): Decision {
  const set = compilePolicies(Array.isArray(resources) ? resources : [resources], opts);
  return evaluate(set.forWorkload(workload), request);
}

/** Whether a one-rule ALLOW policy with `rule` admits `request`. */
export function allows(rule: object, request: L4Request | L7Request, opts: CompileOptions = {}): boolean {
  return decide(ap({ rules: [rule] }), request, HTTPBIN, opts).allowed;
}

export const view = (request: L4Request | L7Request) => new RequestView(request);
