/**
 * The security manifest: one operator-signed record that lists every item
 * whose presence, absence or content grants trust, with a digest of each.
 * Per-record signatures would not do: Redis could delete a signed DENY policy,
 * or bring back an old signed enrollment after an unenroll, and both relax
 * policy. A manifest makes "what is there" itself signed, and its sequence
 * (readers refuse a lower one) makes replaying an older manifest useless.
 *
 * Payload (canonical JSON: keys sorted, no spaces; the exact signed bytes are
 * stored, so no reader re-serializes before verifying):
 *   {"enrollments": {"<ns>/<svc>/<node>/<addr>:<port>": "<sha256 hex>", ...},
 *    "issuedAt": "<ISO time>", "operator": "spiffe://<td>/ambit/operator/<name>",
 *    "resources": {"<Kind>/<ns>/<name>": "<sha256 hex>", ...},
 *    "revoked": {"nodes": [...], "serials": {...}} (revocation/list.ts),
 *    "sequence": n, "trustDomain": "<td>", "version": 2}
 *
 * Version 2 added `revoked`: a removal that the data plane enforces has to be
 * as tamper-proof as the policy it overrides. A version 1 manifest (signed
 * before revocations existed) is still read, as revoking nothing; it cannot
 * carry `revoked`, a version 2 one must, and writers sign only version 2.
 */
import { createHash } from 'node:crypto';
import { refKey, type Resource } from '../../config/resource.js';
import { stableJson } from '../../store/codec.js';
import { endpointKey } from '../../store/keys.js';
import type { EndpointRecord } from '../../store/types.js';
import { WAYPOINT_STATE_LABEL } from '../../store/waypoints.js';
import type { Operator } from '../operator.js';
import { EMPTY_REVOCATIONS, parseRevocations, pruneExpired, type RevocationList } from '../revocation/list.js';
import { parseEnvelope, serializeEnvelope, signEnvelope, type SignedEnvelope } from '../trust/envelope.js';

export const MANIFEST_DOMAIN = 'ambit-security-manifest-v1';

/**
 * Kinds whose loss or change relaxes security (the same set core/mesh refuses a
 * snapshot over): policy, authentication, and also telemetry, since a forged
 * MeshConfig and Telemetry could send request headers (customTags) to an
 * attacker's collector, rate limits, connection limits and browser logins (OidcLogin), whose removal lifts a protection.
 */
export const SECURITY_KINDS: ReadonlySet<string> = new Set([
  'AuthorizationPolicy',
  'PeerAuthentication',
  'RequestAuthentication',
  'Telemetry',
  'MeshConfig',
  'RateLimit',
  'OidcLogin',
  'ConnectionLimit',
]);

export interface ManifestBody {
  /** refKey -> digest. */
  readonly resources: Readonly<Record<string, string>>;
  /** endpointKey -> digest. */
  readonly enrollments: Readonly<Record<string, string>>;
  /** Certificates and node names refused although they verify. */
  readonly revoked: RevocationList;
}

export const MANIFEST_VERSION = 2;

export interface Manifest extends ManifestBody {
  readonly version: 1 | 2;
  readonly trustDomain: string;
  readonly sequence: number;
  readonly issuedAt: string;
  readonly operator: string;
}

export const EMPTY_BODY: ManifestBody = { resources: {}, enrollments: {}, revoked: EMPTY_REVOCATIONS };

function sha256(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

export function isSecurityResource(r: Pick<Resource, 'kind'>): boolean {
  return SECURITY_KINDS.has(r.kind);
}

export function isSecurityKey(key: string): boolean {
  return SECURITY_KINDS.has(key.slice(0, key.indexOf('/')));
}

/** What a policy means: its name and spec (store metadata such as resourceVersion is not signed). */
export function resourceDigest(r: Resource): string {
  return sha256({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, spec: r.spec });
}

/**
 * What an enrollment grants: the identity (namespace, service account) on a
 * node, at an address and port, for a Unix user; and its labels, because
 * policy selectors match on them (a relabelled workload could slip out from
 * under a DENY). The waypoint-state label is left out: the node's daemon
 * flips it itself when its waypoint is ready, and it grants nothing.
 */
export function enrollmentDigest(ep: EndpointRecord): string {
  const { [WAYPOINT_STATE_LABEL]: _state, ...labels } = ep.labels;
  return sha256({
    namespace: ep.namespace,
    service: ep.service,
    node: ep.node,
    address: ep.address,
    port: ep.port,
    serviceAccount: ep.serviceAccount,
    uid: ep.uid ?? null,
    user: ep.user ?? null,
    labels,
  });
}

export function withResources(body: ManifestBody, put: readonly Resource[], drop: readonly string[] = []): ManifestBody {
  const resources = { ...body.resources };
  for (const key of drop) delete resources[key];
  for (const r of put) if (isSecurityResource(r)) resources[refKey(r)] = resourceDigest(r);
  return { ...body, resources };
}

export function withEnrollments(body: ManifestBody, put: readonly EndpointRecord[], drop: readonly string[] = []): ManifestBody {
  const enrollments = { ...body.enrollments };
  for (const key of drop) delete enrollments[key];
  for (const ep of put) enrollments[endpointKey(ep)] = enrollmentDigest(ep);
  return { ...body, enrollments };
}

export function withRevocations(body: ManifestBody, change: (list: RevocationList) => RevocationList): ManifestBody {
  return { ...body, revoked: change(body.revoked) };
}

export function sameBody(a: ManifestBody, b: ManifestBody): boolean {
  return (
    stableJson(a.resources) === stableJson(b.resources) &&
    stableJson(a.enrollments) === stableJson(b.enrollments) &&
    stableJson(a.revoked) === stableJson(b.revoked)
  );
}

/** Revoked serials are dropped once expired whenever a manifest is signed, so the list stays bounded. */
export function signManifest(operator: Operator, body: ManifestBody, sequence: number, now = new Date()): string {
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    trustDomain: operator.spiffeId.trustDomain,
    sequence,
    issuedAt: now.toISOString(),
    operator: operator.spiffeId.uri,
    resources: body.resources,
    enrollments: body.enrollments,
    revoked: pruneExpired(body.revoked, now),
  };
  return serializeEnvelope(signEnvelope(MANIFEST_DOMAIN, stableJson(manifest), operator.key, operator.chainPem));
}

function digestMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((d) => typeof d === 'string' && /^[0-9a-f]{64}$/.test(d));
}

/** The envelope and the manifest it carries, schema-checked but NOT verified; undefined when malformed. */
export function openManifest(record: string): { envelope: SignedEnvelope; manifest: Manifest } | undefined {
  const envelope = parseEnvelope(record);
  if (!envelope) return undefined;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(envelope.payload) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const fields = ['version', 'trustDomain', 'sequence', 'issuedAt', 'operator', 'resources', 'enrollments', ...(data.version === 2 ? ['revoked'] : [])];
  if (Object.keys(data).some((k) => !fields.includes(k))) return undefined;
  const { version, trustDomain, sequence, issuedAt, operator, resources, enrollments } = data;
  if ((version !== 1 && version !== 2) || typeof trustDomain !== 'string' || typeof issuedAt !== 'string' || typeof operator !== 'string') return undefined;
  if (!Number.isSafeInteger(sequence) || (sequence as number) < 1 || !digestMap(resources) || !digestMap(enrollments)) return undefined;
  const revoked = version === 2 ? parseRevocations(data.revoked) : EMPTY_REVOCATIONS;
  if (!revoked) return undefined;
  return { envelope, manifest: { version, trustDomain, sequence: sequence as number, issuedAt, operator, resources, enrollments, revoked } };
}
