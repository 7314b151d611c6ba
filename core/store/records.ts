/**
 * Reading records back from Redis. The store is not trusted (DESIGN: anything
 * read from Redis is validated like a config file), so every record is parsed
 * by a schema here, once, and code past this point trusts the typed value. A
 * record that fails is a StoreError ESTORE_CORRUPT naming the key and the field.
 */
import { Cursor, int, object, port, record, req, string, array, type Schema } from '../config/schema.js';
import { DEFAULT_MESH_DOMAIN, DEFAULT_NAMESPACE } from '../config/resource.js';
import { formatPath } from '../config/path.js';
import { StoreError } from '../errors.js';
import type { EndpointRecord, NodeRecord, ServiceRecord } from './types.js';

const name = () => string();
const labels = () => record(string());

export const endpointRecord = (): Schema<EndpointRecord> =>
  object<EndpointRecord>({
    service: req(name()),
    namespace: req(name()),
    node: req(name()),
    address: req(string()),
    port: req(port()),
    user: string(),
    uid: int({ min: 0 }),
    serviceAccount: req(name()),
    labels: req(labels()),
  });

export const serviceRecord = (): Schema<ServiceRecord> =>
  object<ServiceRecord>({ name: req(name()), namespace: req(name()), ports: req(array(port())), vip: string(), labels: labels() });

export const nodeRecord = (): Schema<NodeRecord> =>
  object<NodeRecord>({ name: req(name()), address: req(string()), hbonePort: port(), version: string(), labels: labels(), lastSeen: int({ min: 0 }) });

/** Store metadata kept beside each resource (core/store/scripts.ts writes it). */
export interface StoredMeta {
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  uid?: string;
  /** The apply script's digests of the document (what counts as a change); they never leave the store. */
  content?: string;
  gen?: string;
}

export const storedMeta = (): Schema<StoredMeta> =>
  object<StoredMeta>({ resourceVersion: string(), generation: int({ min: 0 }), creationTimestamp: string(), uid: string(), content: string(), gen: string() });

/** JSON text from the store, parsed and checked; `what` names the key in the error. */
export function decodeRecord<T>(schema: Schema<T>, raw: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new StoreError('ESTORE_CORRUPT', `${what}: the stored record is not JSON`, { key: what });
  }
  const result = checkRecord(schema, value);
  if (!result.ok) throw new StoreError('ESTORE_CORRUPT', `${what}: the stored record is invalid: ${result.problems.join('; ')}`, { key: what });
  return result.value;
}

/** The schema's verdict without throwing: for reports where one bad record must not hide the others. */
export function checkRecord<T>(schema: Schema<T>, value: unknown): { ok: true; value: T } | { ok: false; problems: string[] } {
  const at = new Cursor([], { namespace: DEFAULT_NAMESPACE, domain: DEFAULT_MESH_DOMAIN });
  const parsed = schema.parse(value, at);
  if (parsed !== undefined && at.issues.length === 0) return { ok: true, value: parsed };
  return { ok: false, problems: at.issues.map((i) => `${formatPath(i.path) || '(record)'}: ${i.detail}`) };
}
