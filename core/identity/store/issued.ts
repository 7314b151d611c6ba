/**
 * What the signer issued, for `ambit certs`: metadata only (never keys, and
 * not even the certificate), one record per node and identity, replaced on
 * renewal and gone from Redis when the certificate expires.
 */
import type { Store } from '../../store/index.js';
import { identityKeys } from './keys.js';

export interface IssuedRecord {
  node: string;
  spiffeId: string;
  kind: 'node' | 'workload';
  serial: string;
  notBefore: string;
  notAfter: string;
  renewAt: string;
  /** SHA-256 fingerprint of the root the certificate chains to (colon-separated hex). */
  root: string;
  /** Subject of the CA that signed it. */
  issuer: string;
  issuedAt: string;
}

export async function recordIssued(store: Store, record: IssuedRecord, now = Date.now()): Promise<void> {
  const ttlMs = Date.parse(record.notAfter) - now;
  if (ttlMs <= 0) return;
  await store.redis.set(identityKeys(store).issued(record.node, record.spiffeId), JSON.stringify(record), 'PX', ttlMs);
}

/** Unexpired records, sorted by node then identity. */
export async function listIssued(store: Store, filter: { node?: string } = {}): Promise<IssuedRecord[]> {
  const keys = await store.scanKeys(identityKeys(store).issuedPattern(filter.node));
  if (keys.length === 0) return [];
  const values = await store.redis.mget(...keys);
  return values
    .filter((v): v is string => typeof v === 'string') // expired between SCAN and MGET
    .map((v) => JSON.parse(v) as IssuedRecord)
    .sort((a, b) => (a.node === b.node ? cmp(a.spiffeId, b.spiffeId) : cmp(a.node, b.node)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
