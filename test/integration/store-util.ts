/** Small helpers shared by the store's integration tests (not a test file itself). */
import type { Resource } from '../../core/config/resource.js';
import type { EndpointRecord, Snapshot } from '../../core/store/index.js';

/** Polls until fn() is truthy; fails with `what` after timeoutMs. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A snapshot as plain sorted objects, so two snapshots compare by content, not Map insertion order. */
export function plain(s: Snapshot | undefined): unknown {
  if (!s) return undefined;
  const obj = <V>(m: Map<string, V>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { revision: s.revision, resources: obj(s.resources), services: obj(s.services), endpoints: obj(s.endpoints) };
}

export function vs(name: string, host = name): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'default' },
    spec: { hosts: [host] },
  };
}

export function ep(service: string, node: string, port: number): EndpointRecord {
  return { service, namespace: 'default', node, address: '10.0.0.1', port, serviceAccount: service, labels: {} };
}
