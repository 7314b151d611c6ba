/**
 * Whether a snapshot's security content is what an operator signed: the one
 * decision behind the daemon's, the waypoint's and the signer's acceptance.
 * Pure (no I/O), returning a tagged verdict, so its table of refusals is
 * tested directly. Checks, in order: a manifest exists (a mesh with nothing
 * to protect and none accepted yet may have none); it parses; its chain ends
 * at a trusted root and names an operator; the signature verifies; it is for
 * this trust domain; its sequence is not below the last accepted one; and the
 * store holds exactly the listed security resources and enrollments, each
 * with the listed digest.
 */
import type { Resource } from '../../config/resource.js';
import type { EndpointRecord } from '../../store/types.js';
import type { TrustBundle } from '../bundle.js';
import { verifyOperatorEnvelope } from '../trust/operator-envelope.js';
import type { RefusalReason } from '../trust/refusals.js';
import { enrollmentDigest, isSecurityResource, MANIFEST_DOMAIN, openManifest, resourceDigest, type Manifest } from './format.js';
import { refKey } from '../../config/resource.js';
import { endpointKey } from '../../store/keys.js';

export interface ManifestInput {
  /** The stored record, unverified. */
  record: string | undefined;
  bundle: TrustBundle;
  /** The highest sequence this reader has accepted (0: none yet). */
  lastSequence: number;
  resources: Iterable<Resource>;
  endpoints: Iterable<EndpointRecord>;
  now?: Date;
}

export type ManifestVerdict =
  | { readonly accept: true; readonly sequence: number; readonly manifest: Manifest | undefined }
  | { readonly accept: false; readonly reason: RefusalReason; readonly detail: string; readonly items?: readonly string[] };

type Verified = { ok: true; manifest: Manifest } | { ok: false; reason: RefusalReason; detail: string };

/** The signature half of the check: who signed, and whether it verifies. */
export function verifyManifestRecord(record: string, bundle: TrustBundle, now = new Date()): Verified {
  const opened = openManifest(record);
  if (!opened) return { ok: false, reason: 'malformed', detail: 'the security manifest does not parse' };
  const signed = verifyOperatorEnvelope(MANIFEST_DOMAIN, opened.envelope, bundle, now);
  if (!signed.ok) return { ok: false, reason: signed.reason, detail: `the manifest: ${signed.detail}` };
  if (opened.manifest.trustDomain !== bundle.trustDomain) {
    return { ok: false, reason: 'trust-domain', detail: `the manifest is for ${opened.manifest.trustDomain}, not ${bundle.trustDomain}` };
  }
  if (opened.manifest.operator !== signed.operator) {
    return { ok: false, reason: 'wrong-signer', detail: `the manifest names ${opened.manifest.operator} but is signed by ${signed.operator}` };
  }
  return { ok: true, manifest: opened.manifest };
}

function compare(kind: string, listed: Readonly<Record<string, string>>, present: Map<string, string>): ManifestVerdict | undefined {
  const extra = [...present.keys()].filter((k) => listed[k] === undefined);
  if (extra.length > 0) return { accept: false, reason: 'extra-entry', detail: `${kind} not in the signed manifest: ${extra.join(', ')}`, items: extra };
  const altered = [...present].filter(([k, d]) => listed[k] !== d).map(([k]) => k);
  if (altered.length > 0)
    return { accept: false, reason: 'digest-mismatch', detail: `${kind} differ from the signed manifest: ${altered.join(', ')}`, items: altered };
  const missing = Object.keys(listed).filter((k) => !present.has(k));
  if (missing.length > 0)
    return { accept: false, reason: 'missing-entry', detail: `${kind} in the signed manifest but not in the store: ${missing.join(', ')}`, items: missing };
  return undefined;
}

export function checkManifest(input: ManifestInput): ManifestVerdict {
  const resources = new Map<string, string>();
  for (const r of input.resources) if (isSecurityResource(r)) resources.set(refKey(r), resourceDigest(r));
  const enrollments = new Map<string, string>();
  for (const ep of input.endpoints) enrollments.set(endpointKey(ep), enrollmentDigest(ep));
  if (input.record === undefined) {
    if (input.lastSequence === 0 && resources.size === 0 && enrollments.size === 0) return { accept: true, sequence: 0, manifest: undefined };
    return { accept: false, reason: 'unsigned', detail: 'the store holds security policy or enrollments but no signed manifest' };
  }
  const verified = verifyManifestRecord(input.record, input.bundle, input.now);
  if (!verified.ok) return { accept: false, reason: verified.reason, detail: verified.detail };
  const { manifest } = verified;
  if (manifest.sequence < input.lastSequence) {
    return {
      accept: false,
      reason: 'rollback',
      detail: `manifest sequence ${manifest.sequence} is below the accepted ${input.lastSequence} (a replayed manifest)`,
    };
  }
  const mismatch = compare('security resources', manifest.resources, resources) ?? compare('enrollments', manifest.enrollments, enrollments);
  return mismatch ?? { accept: true, sequence: manifest.sequence, manifest };
}
