/**
 * HTTPMatchRequest compiled once per config snapshot into plain tests, so a
 * request is matched with string comparisons and pre-built RE2 regexes only.
 * Semantics are Envoy's, as Istio translates each field:
 * - uri exact and regex compare the path without its query; prefix compares
 *   the whole :path (Envoy's prefix matcher does not strip the query).
 * - ignoreUriCase applies to exact and prefix only; Envoy ignores
 *   case_sensitive for safe_regex.
 * - regexes are RE2 full matches, linear in the value (core/config/regex.ts).
 * - a header StringMatch `{}` (or Istio's special `regex: "*"`) is a presence
 *   check; a value match never matches an absent header.
 * - withoutHeaders is Envoy's invert_match without treat_missing_header_as_empty:
 *   an absent header does NOT satisfy `withoutHeaders: {h: {exact: v}}`
 *   (istio/istio#50988); only the presence form `{h: {}}` matches absence.
 */
import { compileIstioRegex, type HTTPMatchRequest, type IstioRegex, type Labels, type StringMatch } from '../config/index.js';
import { RoutingError } from './errors.js';
import { headerValue, queryValue, type RequestView, type RouteRequest } from './request.js';

/** A compiled StringMatch: true when `value` matches. */
export type ValueTest = (value: string) => boolean;

export interface UriMatch {
  kind: 'exact' | 'prefix' | 'regex';
  /** For prefix rewrites: the prefix as written. */
  value: string;
  ignoreCase: boolean;
  test: (view: RequestView) => boolean;
}

interface NamedTest {
  name: string;
  /** undefined: presence only. */
  test: ValueTest | undefined;
  read: (req: RouteRequest) => string | undefined;
}

export interface CompiledMatch {
  name: string | undefined;
  uri: UriMatch | undefined;
  method: ValueTest | undefined;
  scheme: ValueTest | undefined;
  authority: ValueTest | undefined;
  headers: readonly NamedTest[];
  withoutHeaders: readonly NamedTest[];
  queryParams: readonly { name: string; test: ValueTest | undefined }[];
  port: number | undefined;
  sourceLabels: readonly (readonly [string, string])[];
  sourceNamespace: string | undefined;
}

function regex(pattern: string, where: string): IstioRegex {
  try {
    return compileIstioRegex(pattern);
  } catch (err) {
    throw new RoutingError('EROUTE_REGEX', `${where}: invalid regex ${JSON.stringify(pattern)}`, { pattern }, { cause: err });
  }
}

const isPresence = (m: StringMatch): boolean => m.exact === undefined && m.prefix === undefined && (m.regex === undefined || m.regex === '*');

/** A value test for a non-presence StringMatch. */
export function compileValue(m: StringMatch, where: string): ValueTest {
  if (m.exact !== undefined) {
    const exact = m.exact;
    return (v) => v === exact;
  }
  if (m.prefix !== undefined) {
    const prefix = m.prefix;
    return (v) => v.startsWith(prefix);
  }
  const re = regex(m.regex ?? '', where);
  return (v) => re.test(v);
}

const optionalValue = (m: StringMatch | undefined, where: string): ValueTest | undefined => (m === undefined ? undefined : compileValue(m, where));

/** Pseudo-headers read from the request fields, as Envoy exposes them to header matchers. */
function headerReader(name: string): (req: RouteRequest) => string | undefined {
  switch (name) {
    case ':authority':
    case 'host':
      return (req) => req.host;
    case ':method':
      return (req) => req.method;
    case ':path':
      return (req) => req.path;
    case ':scheme':
      return (req) => req.scheme ?? 'http';
    default:
      return (req) => headerValue(req.headers, name);
  }
}

function namedTests(map: Record<string, StringMatch> | undefined, where: string): NamedTest[] {
  return Object.entries(map ?? {}).map(([name, m]) => ({
    name,
    test: isPresence(m) ? undefined : compileValue(m, `${where}.${name}`),
    read: headerReader(name.toLowerCase()),
  }));
}

function compileUri(m: StringMatch, ignoreCase: boolean, where: string): UriMatch {
  if (m.exact !== undefined) {
    const exact = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return {
      kind: 'exact',
      value: m.exact,
      ignoreCase,
      test: ignoreCase ? (v) => v.lowerPathOnly === exact : (v) => v.pathOnly === exact,
    };
  }
  if (m.prefix !== undefined) {
    const prefix = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return {
      kind: 'prefix',
      value: m.prefix,
      ignoreCase,
      test: ignoreCase ? (v) => v.lowerPath.startsWith(prefix) : (v) => v.req.path.startsWith(prefix),
    };
  }
  const re = regex(m.regex ?? '', `${where}.uri`);
  return { kind: 'regex', value: m.regex ?? '', ignoreCase: false, test: (v) => re.test(v.pathOnly) };
}

export function compileMatch(m: HTTPMatchRequest, where: string): CompiledMatch {
  return {
    name: m.name,
    uri: m.uri ? compileUri(m.uri, m.ignoreUriCase === true, where) : undefined,
    method: optionalValue(m.method, `${where}.method`),
    scheme: optionalValue(m.scheme, `${where}.scheme`),
    authority: optionalValue(m.authority, `${where}.authority`),
    headers: namedTests(m.headers, `${where}.headers`),
    withoutHeaders: namedTests(m.withoutHeaders, `${where}.withoutHeaders`),
    queryParams: Object.entries(m.queryParams ?? {}).map(([name, q]) => ({
      name,
      test: isPresence(q) ? undefined : compileValue(q, `${where}.queryParams.${name}`),
    })),
    port: m.port,
    sourceLabels: Object.entries(m.sourceLabels ?? {}),
    sourceNamespace: m.sourceNamespace,
  };
}

function labelsMatch(want: readonly (readonly [string, string])[], have: Readonly<Labels> | undefined): boolean {
  for (const [k, v] of want) if (have?.[k] !== v) return false;
  return true;
}

/** All conditions of one match block, ANDed; cheapest first. */
export function matches(m: CompiledMatch, view: RequestView): boolean {
  const req = view.req;
  if (m.port !== undefined && m.port !== req.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== req.sourceNamespace) return false;
  if (!labelsMatch(m.sourceLabels, req.sourceLabels)) return false;
  if (m.method && !m.method(req.method)) return false;
  if (m.scheme && !m.scheme(req.scheme ?? 'http')) return false;
  if (m.authority && !m.authority(req.host)) return false;
  if (m.uri && !m.uri.test(view)) return false;
  for (const h of m.headers) {
    const v = h.read(req);
    if (v === undefined || (h.test !== undefined && !h.test(v))) return false;
  }
  for (const h of m.withoutHeaders) {
    const v = h.read(req);
    // Envoy: an absent header fails an inverted value match; only an inverted presence match succeeds.
    if (v === undefined ? h.test !== undefined : h.test === undefined || h.test(v)) return false;
  }
  for (const q of m.queryParams) {
    const v = queryValue(req.path, q.name);
    if (v === undefined || (q.test !== undefined && !q.test(v))) return false;
  }
  return true;
}
