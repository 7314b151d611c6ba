/**
 * Schema pieces several Istio kinds share (Destination, StringMatch, Percent,
 * WorkloadSelector, targetRef, header operations), defined once so every kind
 * validates and types them the same way.
 */
import { parseDurationMs } from '../duration.js';
import { hostProblem, resolveHost } from '../hosts.js';
import { isIpOrCidr } from '../net.js';
import { regexProblem } from '../regex.js';
import { Codes, array, number, object, oneOf, port, record, refine, req, string, transform, type Schema } from '../schema.js';

export type Labels = Record<string, string>;
export const labels = (): Schema<Labels> => record(string());
export const strings = (): Schema<string[]> => array(string());

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export function dnsLabelProblem(name: string): string | undefined {
  return name.length <= 63 && DNS_LABEL.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a valid DNS-1123 label (lower-case letters, digits and "-", at most 63)`;
}

/** A duration string in the document, milliseconds in the typed form. */
export function duration(opts: { minMs?: number } = {}): Schema<number> {
  return transform(string(), (text, at) => {
    const ms = parseDurationMs(text);
    if (ms === undefined) return at.fail(Codes.value, `${JSON.stringify(text)} is not a duration (for example "1s", "0.5s", "100ms", "1m", "1h")`);
    if (opts.minMs !== undefined && ms < opts.minMs) return at.fail(Codes.value, `must be at least ${opts.minMs}ms, not ${text}`);
    return ms;
  });
}

/** A host name; the typed form is fully qualified in the document's namespace. */
export function host(): Schema<string> {
  return transform(refine(string(), hostProblem), (h, at) => resolveHost(h, at.ctx.namespace, at.ctx.domain));
}

/** A host name kept as written (ServiceEntry hosts, which Istio never expands). */
export const literalHost = (): Schema<string> => refine(string(), hostProblem);

/** One address: an IP (no range) or a DNS name (WorkloadEntry address, telemetry provider service). */
export const address = (): Schema<string> => refine(string(), (a) => (isIpOrCidr(a) && !a.includes('/') ? undefined : hostProblem(a)));

/** An absolute http(s) URL (an issuer, a jwksUri). */
export function httpUrlProblem(text: string): string | undefined {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:' ? undefined : `${JSON.stringify(text)} is not an http(s) URL`;
  } catch {
    return `${JSON.stringify(text)} is not a URL`;
  }
}

export const ipOrCidr = (): Schema<string> => refine(string(), (v) => (isIpOrCidr(v) ? undefined : `${JSON.stringify(v)} is not an IP address or CIDR range`));

/** Numeric port given as a string, as AuthorizationPolicy and portLevelMtls write them. */
export function portStringProblem(v: string): string | undefined {
  const n = Number(v);
  return /^\d+$/.test(v) && n >= 1 && n <= 65535 ? undefined : `${JSON.stringify(v)} is not a port number (1-65535)`;
}

export const exportTo = (): Schema<string[]> => array(refine(string(), (ns) => (ns === '.' || ns === '*' || ns === '~' ? undefined : dnsLabelProblem(ns))));

/** Percent of traffic, 0-100 (fractions allowed). */
export interface Percent {
  value: number;
}
export const percent = (): Schema<Percent> => object<Percent>({ value: req(number({ min: 0, max: 100 })) });

export interface PortSelector {
  number: number;
}
export const portSelector = (): Schema<PortSelector> => object<PortSelector>({ number: req(port()) });

export interface Destination {
  /** Fully qualified in the typed form. */
  host: string;
  subset?: string;
  port?: PortSelector;
}
export const destination = (): Schema<Destination> => object<Destination>({ host: req(host()), subset: string(), port: portSelector() });

/** Exactly one of exact, prefix, regex (RE2 syntax, whole-value match: compile with compileIstioRegex). */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}
/** `presence`: an empty match `{}` is allowed and means "is present" (header and query maps). */
export const stringMatch = (opts: { presence?: boolean } = {}): Schema<StringMatch> =>
  object<StringMatch>(
    { exact: string(), prefix: string(), regex: refine(string(), regexProblem) },
    { check: oneOf<StringMatch>(['exact', 'prefix', 'regex'], { optional: opts.presence }) },
  );

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}
export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}
const headerOperations = (): Schema<HeaderOperations> => object<HeaderOperations>({ set: record(string()), add: record(string()), remove: strings() });
export const headers = (): Schema<Headers> => object<Headers>({ request: headerOperations(), response: headerOperations() });

export interface WorkloadSelector {
  matchLabels?: Labels;
}
export const selector = (): Schema<WorkloadSelector> => object<WorkloadSelector>({ matchLabels: labels() });

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}
export const targetRef = (): Schema<PolicyTargetReference> =>
  object<PolicyTargetReference>({ group: string(), kind: req(string()), name: req(string()), namespace: string() });

/** The workload-selection fields AuthorizationPolicy and RequestAuthentication share. */
export interface PolicyTarget {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
}
export const policyTargetShape = () => ({ selector: selector(), targetRef: targetRef(), targetRefs: array(targetRef()) });
export const onePolicyTarget = <T extends PolicyTarget>() => oneOf<T>(['selector', 'targetRef', 'targetRefs'], { optional: true });
