/**
 * `ambit apply` gives ServiceEntry hosts without `addresses` a VIP from the
 * store's registry (atomic, unique across services and entries, the same for a
 * host on every re-apply) and records it on the entry, so the store stays the
 * one source of truth and daemons read the VIP from the snapshot that carries
 * the entry. Allocating here rather than lazily in each daemon keeps daemons
 * read-only towards the store and lets DNS answer as soon as the entry exists.
 */
import type { Resource } from '../core/config/resource.js';
import { hostsNeedingVip, withAllocatedAddresses } from '../core/config/service-entry-addresses.js';
import type { Store } from '../core/store/index.js';

export async function allocateServiceEntryVips(store: Pick<Store, 'allocateVip'>, resources: Resource[]): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry') {
      out.push(r);
      continue;
    }
    const byHost = new Map<string, string>();
    // The owner key is namespace/host: hosts are FQDNs, service names DNS labels, so they never collide.
    for (const host of hostsNeedingVip(r)) byHost.set(host, await store.allocateVip(r.metadata.namespace, host));
    out.push(withAllocatedAddresses(r, byHost));
  }
  return out;
}
