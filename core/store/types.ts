/**
 * The store's data model and client contract (implemented in core/store/store.ts).
 * Redis is the single source of truth; every write bumps one global revision and
 * publishes a change notification carrying it.
 */
import type { Resource, ResourceRef } from '../config/resource.js';

export interface StoreOptions {
  /** redis://[:password@]host:port[/db] or rediss:// for TLS. Default redis://127.0.0.1:6379. */
  url?: string;
  password?: string;
  username?: string;
  /** TLS to Redis: true, or node:tls options (ca, cert, key, servername, rejectUnauthorized). */
  tls?: boolean | import('node:tls').ConnectionOptions;
  /** Redis Sentinel: when set, `url`'s host is ignored and the master `sentinelName` is asked for. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  sentinelPassword?: string;
  /** Prefix for every key and channel (default "ambit:"), so one Redis can hold several meshes. */
  keyPrefix?: string;
  /** How long to wait for the first connection before failing with EREDIS_UNREACHABLE (default 3000). */
  connectTimeoutMs?: number;
  /** Long-running processes retry forever with backoff; CLIs fail fast (default false). */
  retryForever?: boolean;
  /** How many change-log entries to keep (default 10000); a watcher further behind resyncs. */
  changeLogLength?: number;
  /** Shown by CLIENT LIST, so an operator can tell ambitd from the CLI (default "ambit"). */
  connectionName?: string;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  revision: number;
  results: { ref: ResourceRef; action: ApplyAction }[];
}

export interface DeleteOptions {
  /** Skip refs that do not exist instead of failing the whole delete. */
  ignoreNotFound?: boolean;
}

export interface DeleteResult {
  revision: number;
  deleted: ResourceRef[];
}

/** A host running ambitd. Kept alive by heartbeats; expires after its TTL. */
export interface NodeRecord {
  name: string;
  /** Address other nodes reach this node's HBONE port on. */
  address: string;
  hbonePort?: number;
  version?: string;
  labels?: Record<string, string>;
  /** Set by the store: last heartbeat time (ms since epoch). */
  lastSeen?: number;
}

/** One enrolled instance of a service: a process on a node, run by a Unix user. */
export interface EndpointRecord {
  service: string;
  namespace: string;
  node: string;
  address: string;
  port: number;
  /** Unix user name or uid the service runs as on its node (its outbound identity). */
  user?: string;
  uid?: number;
  serviceAccount: string;
  labels: Record<string, string>;
}

/** What enroll/unenroll did; `revision` is unchanged when nothing changed. */
export interface EnrollResult {
  revision: number;
  action: 'created' | 'configured' | 'unchanged';
  /** The service's VIP: claimed at its first enroll, the same on every later one. */
  vip: string;
}

export interface UnenrollFilter {
  node?: string;
  address?: string;
  port?: number;
  /** Succeed (removing nothing) when no endpoint matches, instead of NotFoundError. */
  ignoreNotFound?: boolean;
}

export interface UnenrollResult {
  revision: number;
  /** Endpoints removed. */
  removed: number;
  /** True when the service itself went away with its last endpoint. */
  serviceDeleted: boolean;
}

export interface EndpointFilter {
  namespace?: string;
  service?: string;
  node?: string;
}

/** A service: the union of its endpoints, with a stable VIP once allocated. */
export interface ServiceRecord {
  name: string;
  namespace: string;
  /** Union of its endpoints' ports, sorted. */
  ports: number[];
  /**
   * Claimed by the store at the service's first enroll and kept until its last endpoint
   * goes. Optional only for records written before VIPs existed (the next enroll adds it).
   */
  vip?: string;
  labels?: Record<string, string>;
}

/** Settings that apply to the whole mesh, kept in the store so every node agrees. */
export interface MeshSettings {
  /** Where service VIPs come from (default 240.240.0.0/16, DEFAULT_VIP_CIDR in core/vip). */
  vipCidr: string;
}

export type Change =
  | { type: 'resource-put'; revision: number; resource: Resource }
  | { type: 'resource-delete'; revision: number; ref: ResourceRef }
  | { type: 'service-put'; revision: number; service: ServiceRecord }
  | { type: 'service-delete'; revision: number; namespace: string; name: string }
  | { type: 'endpoint-put'; revision: number; endpoint: EndpointRecord }
  | { type: 'endpoint-delete'; revision: number; endpoint: EndpointRecord }
  /** The signed security manifest was replaced (as text: only core/identity/manifest reads it, after checking its signature). */
  | { type: 'manifest-put'; revision: number; manifest: string };

/**
 * A new signed security manifest to write with a change, only if the stored
 * one still has sequence `expect` (optimistic concurrency between operators).
 */
export interface ManifestWrite {
  expect: number;
  sequence: number;
  record: string;
}

export interface Snapshot {
  revision: number;
  /**
   * Endpoint keys of waypoints their nodes say are ready (already laid over `endpoints`);
   * kept so later endpoint changes get the same overlay. Absent in hand-made snapshots.
   */
  readyWaypoints?: ReadonlySet<string>;
  /** Keyed by refKey(). */
  resources: Map<string, Resource>;
  /** Keyed by `namespace/name`. */
  services: Map<string, ServiceRecord>;
  /** Keyed by endpointKey(): `namespace/service/node/address:port`. */
  endpoints: Map<string, EndpointRecord>;
  /** The signed security manifest record as stored (unverified); undefined when none was ever written. */
  manifest?: string;
}
