/**
 * How records are written to and read from Redis: resources are stored as the user
 * wrote them (minus store-set metadata) with the store metadata beside them, and
 * change-log stream entries are turned back into typed Change values.
 */
import { createHash } from 'node:crypto';
import { parseRefKey, refKey, type Resource } from '../config/resource.js';
import { StoreError } from '../errors.js';
import { decodeRecord, endpointRecord, serviceRecord, storedMeta } from './records.js';
import type { Change, EndpointRecord } from './types.js';

/** What the apply script needs for one document. */
export interface EncodedResource {
  key: string;
  doc: string;
  /** Digest of what makes a re-apply "unchanged": apiVersion, labels, annotations, spec. */
  content: string;
  /** Digest of what bumps metadata.generation: spec and labels. */
  generation: string;
}

const NAME = /^[^/\s]+$/;

/** Guards the store's own invariants (keys split on '/'); schema validation is core/config's job. */
export function checkResource(r: Resource, code: 'ESTORE_INVALID' | 'ESTORE_CORRUPT' = 'ESTORE_INVALID'): void {
  const where = `${r?.kind ?? '?'}/${r?.metadata?.namespace ?? '?'}/${r?.metadata?.name ?? '?'}`;
  const bad = (what: string): never => {
    throw new StoreError(code, `${where}: ${what}`, { resource: where });
  };
  if (typeof r !== 'object' || r === null) bad('not an object');
  if (typeof r.apiVersion !== 'string' || !r.apiVersion) bad('apiVersion is required');
  if (typeof r.kind !== 'string' || !NAME.test(r.kind)) bad('kind is required and may not contain "/" or spaces');
  if (typeof r.metadata !== 'object' || r.metadata === null) bad('metadata is required');
  for (const f of ['name', 'namespace'] as const) {
    const v = r.metadata[f];
    if (typeof v !== 'string' || !NAME.test(v)) bad(`metadata.${f} is required and may not contain "/" or spaces`);
  }
  if (typeof r.spec !== 'object' || r.spec === null || Array.isArray(r.spec)) bad('spec must be an object');
}

export function encodeResource(r: Resource): EncodedResource {
  // Store-set fields are dropped, so re-applying `ambit get -o yaml` output is not a change.
  const { resourceVersion: _rv, generation: _gen, creationTimestamp: _ct, uid: _uid, ...metadata } = r.metadata;
  const doc = JSON.stringify({ ...r, metadata });
  const { labels, annotations } = metadata;
  return {
    key: refKey(r),
    doc,
    content: digest({ apiVersion: r.apiVersion, labels, annotations, spec: r.spec }),
    generation: digest({ labels, spec: r.spec }),
  };
}

/** A stored resource back: its envelope checked here, its spec by its kind's schema in core/mesh (per snapshot). */
export function decodeResource(doc: string, meta: string | undefined, key = 'resource'): Resource {
  const r = decodeRecord<Resource>({ parse: (v) => v as Resource }, doc, key);
  checkResource(r, 'ESTORE_CORRUPT');
  if (meta) {
    const m = decodeRecord(storedMeta(), meta, `${key} metadata`);
    r.metadata = {
      ...r.metadata,
      ...(m.resourceVersion !== undefined && { resourceVersion: m.resourceVersion }),
      ...(m.generation !== undefined && { generation: m.generation }),
      ...(m.creationTimestamp !== undefined && { creationTimestamp: m.creationTimestamp }),
      ...(m.uid !== undefined && { uid: m.uid }),
    };
  }
  return r;
}

/** sha256 of JSON with sorted keys, so key order in the user's YAML does not count as a change. */
function digest(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Endpoints are stored in stable key order so re-enrolling the same thing compares equal. */
export function encodeEndpoint(ep: EndpointRecord): string {
  return stableJson(ep);
}

/** A stream entry id `<revision>-<n>`. */
export function parseEntryId(id: string): { revision: number; seq: number } {
  const [rev, seq] = id.split('-');
  return { revision: Number(rev), seq: Number(seq) };
}

/** Turns the flat field list of one change-log entry into a Change. */
export function decodeChange(revision: number, fields: string[]): Change {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  const type = f.get('t');
  const key = f.get('k') ?? '';
  const data = f.get('d') ?? '{}';
  switch (type) {
    case 'resource-put':
      return { type, revision, resource: decodeResource(data, f.get('m'), `change ${revision} (${key})`) };
    case 'resource-delete':
      return { type, revision, ref: parseRefKey(key) };
    case 'service-put':
      return { type, revision, service: decodeRecord(serviceRecord(), data, `change ${revision} (${key})`) };
    case 'service-delete': {
      const [namespace = '', name = ''] = key.split('/');
      return { type, revision, namespace, name };
    }
    case 'endpoint-put':
    case 'endpoint-delete':
      return { type, revision, endpoint: decodeRecord(endpointRecord(), data, `change ${revision} (${key})`) };
    case 'manifest-put':
      return { type, revision, manifest: data };
    default:
      throw new StoreError('ESTORE_CORRUPT', `unknown change type "${type}" at revision ${revision}`);
  }
}
