/**
 * The mesh as the proxies see it, read by the CLI: one store snapshot and the
 * node list, turned into a MeshState per node exactly as ambitd does
 * (daemon.ts #rebuildNow), so `ambit analyze` and `ambit explain` read the
 * very indexes the daemons and waypoints decide with. A MeshState is node
 * specific (which uids are captured, which endpoints are local), hence one per
 * node, built on first use.
 */
import type { Resource } from '../core/config/resource.js';
import { refKey } from '../core/config/resource.js';
import type { MeshState } from '../core/mesh/index.js';
import type { Store } from '../core/store/index.js';
import type { NodeRecord, Snapshot } from '../core/store/types.js';

export interface MeshNames {
  /** SPIFFE trust domain (default: the store's trust bundle's, else cluster.local). */
  trustDomain?: string;
  /** DNS domain short host names resolve into (default cluster.local). */
  domain?: string;
}

export interface LiveMesh {
  snapshot: Snapshot;
  nodes: readonly NodeRecord[];
  trustDomain: string;
  domain: string;
  /** The state ambitd on `node` holds (any name works for node-independent questions). */
  stateFor(node: string): MeshState;
  /** The same mesh without the resources of these `Kind/namespace/name` keys. */
  without(keys: readonly string[]): LiveMesh;
}

/** Reads the store; `extra` are to-be-applied resources laid over the applied ones (same kind/namespace/name replaces). */
export async function readLiveMesh(store: Store, names: MeshNames, extra: readonly Resource[] = []): Promise<LiveMesh> {
  const [snapshot, nodes, trustDomain] = await Promise.all([store.snapshot(), store.listNodes(), names.trustDomain ?? storeTrustDomain(store)]);
  return liveMesh(withResources(snapshot, extra), nodes, { trustDomain, domain: names.domain ?? 'cluster.local' });
}

/** A LiveMesh from records in hand (tests build one from fixtures). */
export async function liveMesh(snapshot: Snapshot, nodes: readonly NodeRecord[], names: Required<MeshNames>): Promise<LiveMesh> {
  const { MeshState } = await import('../core/mesh/index.js');
  const build = (snap: Snapshot): LiveMesh => {
    const states = new Map<string, MeshState>();
    return {
      snapshot: snap,
      nodes,
      ...names,
      stateFor(node) {
        let s = states.get(node);
        if (!s) states.set(node, (s = new MeshState(snap, nodes, { nodeName: node, ...names })));
        return s;
      },
      without(keys) {
        const resources = new Map([...snap.resources].filter(([key]) => !keys.includes(key)));
        return build({ ...snap, resources });
      },
    };
  };
  return build(snapshot);
}

export function withResources(snapshot: Snapshot, extra: readonly Resource[]): Snapshot {
  if (extra.length === 0) return snapshot;
  const resources = new Map(snapshot.resources);
  for (const r of extra) resources.set(refKey(r), r);
  return { ...snapshot, resources };
}

async function storeTrustDomain(store: Store): Promise<string> {
  const { readBundle } = await import('../core/identity/store/bundle.js');
  return (await readBundle(store))?.bundle.trustDomain ?? 'cluster.local';
}
