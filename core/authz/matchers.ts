/**
 * One matcher per request attribute, built once per policy value list.
 * Each returns a Predicate that is true when the request's attribute matches
 * ANY of the values (Istio ORs the values of one field); the compiler negates
 * it for `not*` fields. A missing attribute (plaintext principal, no JWT, no
 * header) matches no value, so the `not*` form of it matches.
 */
import { inRanges, parseRanges, type Address } from './address.js';
import { compilePathTemplate, isPathTemplate } from './path-template.js';
import type { RequestView } from './request.js';
import type { Predicate } from './types.js';

export type StringTest = (value: string | undefined) => boolean;

export interface StringSetOptions {
  /**
   * A lone "*": Istio generates the regex `.+` (any non-empty value) for most
   * attributes, but a presence match for headers, hosts and methods.
   */
  star?: 'non-empty' | 'present';
  /** Values are compared lower-case; the caller lower-cases the request side. */
  ignoreCase?: boolean;
}

/** Istio's string forms: `*`, `prefix*`, `*suffix`, or exact. */
export function stringSet(patterns: readonly string[], opts: StringSetOptions = {}): StringTest {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  let star = false;
  for (const raw of patterns) {
    const p = opts.ignoreCase ? raw.toLowerCase() : raw;
    if (p === '*') star = true;
    else if (p.startsWith('*')) suffixes.push(p.slice(1));
    else if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  const anyPresent = opts.star === 'present';
  return (v) => {
    if (v === undefined) return false;
    if (star && (anyPresent || v.length > 0)) return true;
    if (exact.has(v)) return true;
    for (const p of prefixes) if (v.startsWith(p)) return true;
    for (const s of suffixes) if (v.endsWith(s)) return true;
    return false;
  };
}

/** What a policy's values are resolved against. */
export interface MatchEnv {
  /** Namespace of the policy (serviceAccounts without a namespace). */
  policyNamespace: string;
  trustDomain: string;
  trustDomainAliases: readonly string[];
}

export type AttributeMatcher = (values: readonly string[], env: MatchEnv) => Predicate;

/** A string attribute read off the request, matched with Istio's string forms. */
function onString(get: (r: RequestView) => string | undefined, opts?: StringSetOptions): AttributeMatcher {
  return (values) => {
    const test = stringSet(values, opts);
    return (r) => test(get(r));
  };
}

/**
 * Istio rewrites a principal whose trust domain is `cluster.local` (or the
 * mesh's own, or an alias) into one per configured domain, so policies keep
 * working across a trust-domain migration. Wildcard domains are left alone.
 */
export function withTrustDomains(values: readonly string[], env: MatchEnv): string[] {
  const domains = [env.trustDomain, ...env.trustDomainAliases];
  const out = new Set<string>();
  for (const v of values) {
    const slash = v.indexOf('/');
    const td = slash > 0 ? v.slice(0, slash) : undefined;
    if (td !== undefined && !td.includes('*') && (td === 'cluster.local' || domains.includes(td))) {
      for (const d of domains) out.add(d + v.slice(slash));
    } else out.add(v);
  }
  return [...out];
}

export const principals: AttributeMatcher = (values, env) => {
  const test = stringSet(withTrustDomains(values, env));
  return (r) => test(r.principal);
};

export const namespaces: AttributeMatcher = onString((r) => r.namespace);

/** `ns/sa` or `sa` (in the policy's namespace), compared exactly; no wildcards. */
export const serviceAccounts: AttributeMatcher = (values, env) => {
  const wanted = new Set(values.map((v) => (v.includes('/') ? v : `${env.policyNamespace}/${v}`)));
  return (r) => r.namespace !== undefined && r.serviceAccount !== undefined && wanted.has(`${r.namespace}/${r.serviceAccount}`);
};

function ipBlocks(get: (r: RequestView) => Address | undefined): AttributeMatcher {
  return (values) => {
    const ranges = parseRanges(values);
    return (r) => {
      const addr = get(r);
      return addr !== undefined && inRanges(addr, ranges);
    };
  };
}

export const sourceIps = ipBlocks((r) => r.sourceIp);
export const remoteIps = ipBlocks((r) => r.remoteIp);
export const destinationIps = ipBlocks((r) => r.destinationIp);

export const ports: AttributeMatcher = (values) => {
  const wanted = new Set(values.map(Number));
  return (r) => wanted.has(r.destinationPort);
};

/** Case-insensitive against the whole Host: `example.com` does not match `example.com:8080`; `example.com:*` does. */
export const hosts: AttributeMatcher = onString((r) => r.host, { ignoreCase: true, star: 'present' });
export const methods: AttributeMatcher = onString((r) => r.method, { star: 'present' });
export const sni: AttributeMatcher = onString((r) => r.sni);

export const paths: AttributeMatcher = (values) => {
  const templates = values.filter(isPathTemplate).map(compilePathTemplate);
  const test = stringSet(values.filter((v) => !isPathTemplate(v)));
  return (r) => {
    const path = r.path;
    if (test(path)) return true;
    if (path === undefined) return false;
    for (const t of templates) if (t.test(path)) return true;
    return false;
  };
};

export function header(name: string): AttributeMatcher {
  return onString((r) => r.header(name), { star: 'present' });
}

/** A claim may be a string or a list of strings; any element may match. */
export function claim(path: readonly string[]): AttributeMatcher {
  return (values) => {
    const test = stringSet(values);
    return (r) => {
      const v = r.claim(path);
      if (typeof v === 'string') return test(v);
      return Array.isArray(v) && v.some((x) => typeof x === 'string' && test(x));
    };
  };
}

const exactly =
  (want: string): StringTest =>
  (v) =>
    v === want;
const nonEmpty: StringTest = (v) => v !== undefined && v.length > 0;
const suffixed =
  (s: string): StringTest =>
  (v) =>
    v !== undefined && v.endsWith(s);
const prefixed =
  (p: string): StringTest =>
  (v) =>
    v !== undefined && v.startsWith(p);

/**
 * Istio splits a request principal at its last "/" into issuer and subject
 * and matches each claim separately; a leading or trailing "*" applies to the
 * part it touches, and without a "/" the other part may be anything.
 */
function issuerSubject(value: string): [StringTest, StringTest] {
  const slash = value.lastIndexOf('/');
  const found = slash >= 0;
  const iss = found ? value.slice(0, slash) : value;
  const sub = found ? value.slice(slash + 1) : '';
  if (value === '*') return [nonEmpty, nonEmpty];
  if (value.startsWith('*')) {
    if (!found) return [nonEmpty, suffixed(value.slice(1))];
    return [iss === '*' ? nonEmpty : suffixed(iss.slice(1)), exactly(sub)];
  }
  if (value.endsWith('*')) {
    if (!found) return [prefixed(value.slice(0, -1)), nonEmpty];
    return [exactly(iss), sub === '*' ? nonEmpty : prefixed(sub.slice(0, -1))];
  }
  return [exactly(iss), exactly(sub)];
}

export const requestPrincipals: AttributeMatcher = (values) => {
  const pairs = values.map(issuerSubject);
  return (r) => {
    const iss = r.issuer;
    const sub = r.subject;
    for (const [i, s] of pairs) if (i(iss) && s(sub)) return true;
    return false;
  };
};

/** Attributes ambit does not have (Envoy filter metadata) are always absent. */
export const absent: AttributeMatcher = () => () => false;
