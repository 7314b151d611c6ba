/**
 * Addresses the mesh hands out to ServiceEntry hosts that have none, as Istio's
 * DNS proxy auto-allocation does. The VIP registry in the store owns the
 * allocation (unique, shared with enrolled services, stable per host); `ambit
 * apply` copies the result into an annotation of the ServiceEntry, so daemons
 * learn it from the same revisioned snapshot as the entry itself, and `ambit get`
 * shows it, like Istio's `status.addresses`.
 */
import type { Resource } from './resource.js';

export const ALLOCATED_ADDRESSES_ANNOTATION = 'ambit.dev/allocated-addresses';

/**
 * The hosts that get an allocated VIP: none when the entry gives `addresses`;
 * otherwise every non-wildcard host, unless resolution is NONE (Istio allocates
 * neither for wildcards, which have no single name to answer, nor for NONE,
 * whose traffic goes to the address the caller already chose).
 */
export function hostsNeedingVip(entry: Resource): string[] {
  const spec = entry.spec as { hosts?: unknown; addresses?: unknown; resolution?: unknown };
  if (Array.isArray(spec.addresses) && spec.addresses.length > 0) return [];
  // Unset is NONE, Istio's default.
  if (spec.resolution === undefined || spec.resolution === 'NONE') return [];
  const hosts = Array.isArray(spec.hosts) ? spec.hosts.filter((h): h is string => typeof h === 'string') : [];
  return hosts.filter((h) => !h.includes('*')).map((h) => h.toLowerCase());
}

/** `host=ip,host=ip`, sorted, so re-applying the same allocation is "unchanged". */
export function formatAllocatedAddresses(byHost: ReadonlyMap<string, string>): string {
  return [...byHost]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([h, ip]) => `${h}=${ip}`)
    .join(',');
}

/** The annotation read back; malformed parts are skipped (users may edit annotations). */
export function allocatedAddresses(entry: Pick<Resource, 'metadata'>): Map<string, string> {
  const text = entry.metadata.annotations?.[ALLOCATED_ADDRESSES_ANNOTATION] ?? '';
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i > 0 && i < part.length - 1) out.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  return out;
}

/**
 * The entry with the allocation annotated (any stale one replaced, the
 * annotation dropped when no host needs a VIP), leaving the input untouched.
 */
export function withAllocatedAddresses(entry: Resource, byHost: ReadonlyMap<string, string>): Resource {
  const { [ALLOCATED_ADDRESSES_ANNOTATION]: _stale, ...others } = entry.metadata.annotations ?? {};
  const annotations = byHost.size > 0 ? { ...others, [ALLOCATED_ADDRESSES_ANNOTATION]: formatAllocatedAddresses(byHost) } : others;
  const { annotations: _old, ...metadata } = entry.metadata;
  return { ...entry, metadata: Object.keys(annotations).length > 0 ? { ...metadata, annotations } : metadata };
}
