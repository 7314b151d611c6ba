/**
 * Every Redis key and channel the store uses, in one place, so the Lua scripts,
 * the store and the watcher cannot disagree about names. All share one prefix
 * (default "ambit:") so several meshes can live in one Redis.
 */
import type { EndpointRecord } from './types.js';

export const DEFAULT_KEY_PREFIX = 'ambit:';

export interface Keys {
  /** String: the global revision counter (INCR). */
  revision: string;
  /** Hash refKey -> resource JSON as the user wrote it (store metadata stripped). */
  resources: string;
  /** Hash refKey -> store metadata JSON (resourceVersion, generation, creationTimestamp, digests). */
  resourceMeta: string;
  /** Hash `namespace/name` -> ServiceRecord JSON. */
  services: string;
  /** Hash endpointKey -> EndpointRecord JSON. */
  endpoints: string;
  /** Hash VIP -> owner `namespace/name`: which addresses are taken, for the allocator. */
  vips: string;
  /** Hash owner `namespace/name` -> VIP: the other direction, so a VIP outlives re-enrolls. */
  vipOwners: string;
  /** String bumped on every VIP claim and release, so a range change can tell the set moved under it. */
  vipEpoch: string;
  /** Hash of per-mesh settings (vipCidr). */
  mesh: string;
  /** Set of endpoint keys of one service, so unenroll does not scan every endpoint. */
  serviceEndpoints(namespace: string, name: string): string;
  /** String with TTL per node, refreshed by heartbeats. */
  node(name: string): string;
  /** SCAN pattern matching every node key. */
  nodePattern: string;
  /** String with TTL per node: what its daemon reports about itself (live tunnels), for `ambit tunnels`. */
  nodeStatus(name: string): string;
  nodeStatusPattern: string;
  /** Hash per node, written by that node's daemon: endpoint key -> "ready" for the waypoints it serves. */
  waypointReady(node: string): string;
  waypointReadyPattern: string;
  /** Pub/sub channel a node publishes `{"node": name}` on after changing its own waypointReady key. */
  nodeChannel: string;
  /** Prefix of the token buckets of global RateLimit rules, which every node's waypoints share. */
  rateLimitPrefix: string;
  /** Stream of changes; entry id `<revision>-<n>`, so a reader can ask "from revision r". */
  changes: string;
  /** Pub/sub channel carrying `{"revision":n}` after each write. */
  channel: string;
  /**
   * Hash {record: the operator-signed security manifest (core/identity/manifest), sequence: n}.
   * Written in the same script as the change it covers, so a snapshot never sees one without the other.
   */
  manifest: string;
}

export function keysFor(prefix: string = DEFAULT_KEY_PREFIX): Keys {
  return {
    revision: `${prefix}revision`,
    resources: `${prefix}resources`,
    resourceMeta: `${prefix}resource-meta`,
    services: `${prefix}services`,
    endpoints: `${prefix}endpoints`,
    vips: `${prefix}vips`,
    vipOwners: `${prefix}vip-owners`,
    vipEpoch: `${prefix}vip-epoch`,
    mesh: `${prefix}mesh`,
    serviceEndpoints: (namespace, name) => `${prefix}service-endpoints:${namespace}/${name}`,
    node: (name) => `${prefix}node:${name}`,
    nodePattern: `${prefix}node:*`,
    nodeStatus: (name) => `${prefix}node-status:${name}`,
    nodeStatusPattern: `${prefix}node-status:*`,
    waypointReady: (name) => `${prefix}waypoint-ready:${name}`,
    waypointReadyPattern: `${prefix}waypoint-ready:*`,
    nodeChannel: `${prefix}node-events`,
    rateLimitPrefix: `${prefix}ratelimit:`,
    changes: `${prefix}changes`,
    channel: `${prefix}events`,
    manifest: `${prefix}manifest`,
  };
}

/** `namespace/name`: the key of a service in the services hash and in Snapshot.services. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `namespace/service/node/address:port`: one enrolled instance. */
export function endpointKey(ep: Pick<EndpointRecord, 'namespace' | 'service' | 'node' | 'address' | 'port'>): string {
  return `${ep.namespace}/${ep.service}/${ep.node}/${ep.address}:${ep.port}`;
}
