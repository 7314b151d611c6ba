import { IdentityError } from './errors.js';

/**
 * SPIFFE IDs as ambit uses them. Workloads are
 * `spiffe://<td>/ns/<namespace>/sa/<service-account>` (Istio's layout, so
 * Istio AuthorizationPolicy principals apply unchanged); node daemons are
 * `spiffe://<td>/ambit/node/<name>`; operators, whose key signs the
 * security manifest, are `spiffe://<td>/ambit/operator/<name>`; signing CAs carry the bare
 * `spiffe://<td>`. Anything else that is a valid SPIFFE ID parses as `other`
 * so foreign SVIDs can still be logged and matched by string.
 *
 * Syntax follows the SPIFFE-ID standard: lowercase trust domain of
 * [a-z0-9._-], path segments of [a-zA-Z0-9._-], no empty, `.` or `..`
 * segments, no trailing slash, query, fragment, port or userinfo.
 */
interface SpiffeIdBase {
  /** The full URI, `spiffe://...`: what goes in the URI SAN. */
  readonly uri: string;
  readonly trustDomain: string;
  /** `''` for a trust domain ID, otherwise starts with `/`. */
  readonly path: string;
}
export interface WorkloadSpiffeId extends SpiffeIdBase {
  readonly kind: 'workload';
  readonly namespace: string;
  readonly serviceAccount: string;
}
export interface NodeSpiffeId extends SpiffeIdBase {
  readonly kind: 'node';
  readonly node: string;
}
export interface OperatorSpiffeId extends SpiffeIdBase {
  readonly kind: 'operator';
  readonly operator: string;
}
export interface TrustDomainSpiffeId extends SpiffeIdBase {
  readonly kind: 'trust-domain';
}
export interface OtherSpiffeId extends SpiffeIdBase {
  readonly kind: 'other';
}
export type SpiffeId = WorkloadSpiffeId | NodeSpiffeId | OperatorSpiffeId | TrustDomainSpiffeId | OtherSpiffeId;

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

const SCHEME = 'spiffe://';
// The standard caps a SPIFFE ID at 2048 bytes and a trust domain at 255.
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[a-zA-Z0-9._-]+$/;

function invalid(input: string, why: string): IdentityError {
  return new IdentityError('EIDENTITY_INVALID_SPIFFE_ID', `invalid SPIFFE ID ${JSON.stringify(input)}: ${why}`, { input });
}

/** Why a trust domain name is not valid, or undefined when it is. */
export function trustDomainProblem(td: string): string | undefined {
  if (td.length === 0) return 'trust domain is empty';
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`;
  if (!TRUST_DOMAIN_RE.test(td)) return 'trust domain may only hold lowercase letters, digits, ".", "-" and "_"';
  return undefined;
}

export function isValidTrustDomain(td: string): boolean {
  return trustDomainProblem(td) === undefined;
}

/** Throws EIDENTITY_INVALID_SPIFFE_ID unless `td` can be a trust domain. */
export function assertTrustDomain(td: string): void {
  const problem = trustDomainProblem(td);
  if (problem) throw invalid(`${SCHEME}${td}`, problem);
}

function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'path has an empty segment (double or trailing "/")';
  if (segment === '.' || segment === '..') return 'path segments "." and ".." are not allowed';
  if (!SEGMENT_RE.test(segment)) return `path segment ${JSON.stringify(segment)} may only hold letters, digits, ".", "-" and "_"`;
  return undefined;
}

/** Parses and validates a `spiffe://` URI; throws EIDENTITY_INVALID_SPIFFE_ID. */
export function parseSpiffeId(input: string): SpiffeId {
  if (input.length > MAX_ID_LENGTH) throw invalid(input.slice(0, 64) + '...', `longer than ${MAX_ID_LENGTH} characters`);
  if (!input.startsWith(SCHEME)) throw invalid(input, 'must start with "spiffe://"');
  const rest = input.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) throw invalid(input, tdProblem);
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const segment of segments) {
      const problem = segmentProblem(segment);
      if (problem) throw invalid(input, problem);
    }
  }
  return classify(input, trustDomain, path);
}

function classify(uri: string, trustDomain: string, path: string): SpiffeId {
  const s = path.split('/');
  if (path === '') return { kind: 'trust-domain', uri, trustDomain, path };
  if (s.length === 5 && s[1] === 'ns' && s[3] === 'sa') {
    return { kind: 'workload', uri, trustDomain, path, namespace: s[2]!, serviceAccount: s[4]! };
  }
  if (s.length === 4 && s[1] === 'ambit' && s[2] === 'node') {
    return { kind: 'node', uri, trustDomain, path, node: s[3]! };
  }
  if (s.length === 4 && s[1] === 'ambit' && s[2] === 'operator') {
    return { kind: 'operator', uri, trustDomain, path, operator: s[3]! };
  }
  return { kind: 'other', uri, trustDomain, path };
}

/** Like parseSpiffeId but returns undefined instead of throwing. */
export function tryParseSpiffeId(input: string): SpiffeId | undefined {
  try {
    return parseSpiffeId(input);
  } catch {
    return undefined;
  }
}

/** Builds an ID from parts, each of which must be exactly one path segment (a "/" would shift the layout). */
function fromParts(trustDomain: string, parts: readonly string[]): SpiffeId {
  const uri = `${SCHEME}${trustDomain}/${parts.join('/')}`;
  for (const part of parts) {
    const problem = segmentProblem(part);
    if (problem) throw invalid(uri, problem);
  }
  return parseSpiffeId(uri);
}

/**
 * A workload's SPIFFE URI without the syntax checks of workloadId: for names
 * that were validated where they entered (store records), on paths that run
 * per connection.
 */
export function workloadUri(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${SCHEME}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function workloadId(trustDomain: string, namespace: string, serviceAccount: string): WorkloadSpiffeId {
  return fromParts(trustDomain, ['ns', namespace, 'sa', serviceAccount]) as WorkloadSpiffeId;
}

export function nodeId(trustDomain: string, node: string): NodeSpiffeId {
  return fromParts(trustDomain, ['ambit', 'node', node]) as NodeSpiffeId;
}

export function operatorId(trustDomain: string, operator: string): OperatorSpiffeId {
  return fromParts(trustDomain, ['ambit', 'operator', operator]) as OperatorSpiffeId;
}

export function trustDomainId(trustDomain: string): TrustDomainSpiffeId {
  return parseSpiffeId(`${SCHEME}${trustDomain}`) as TrustDomainSpiffeId;
}

/**
 * Istio writes principals without the scheme (`cluster.local/ns/default/sa/x`)
 * in AuthorizationPolicy and in its telemetry labels.
 */
export function toIstioPrincipal(id: SpiffeId): string {
  return id.uri.slice(SCHEME.length);
}

/**
 * The SPIFFE ID an exact Istio principal names; a `spiffe://` prefix is also
 * accepted. Wildcard principals (`*`, `prefix*`) are patterns, not IDs: the
 * authorization layer matches those against `toIstioPrincipal(id)`.
 */
export function fromIstioPrincipal(principal: string): SpiffeId {
  if (principal.includes('*')) throw invalid(principal, 'a wildcard principal is a pattern, not a single identity');
  return parseSpiffeId(principal.startsWith(SCHEME) ? principal : `${SCHEME}${principal}`);
}
