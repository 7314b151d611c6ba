/** The mesh state both proxies read: built from a store snapshot and the node list, pure. */
export { MeshState, serviceRef, type StateOptions } from './state.js';
export { MeshError, type MeshErrorCode } from './errors.js';
export { NodeList, type NodeSource } from './nodes.js';
export { identityOf, type CallerWorkload, type Peer } from './workloads.js';
export type { ServiceRef, ServiceView, WaypointView } from './services.js';
export type { EntryRoute, RouteCandidate } from './entry-index.js';
export type { EffectiveMode } from './peer-authentication.js';
export type { RejectedResource } from './resources.js';
export type { EffectiveConnectionLimit } from './connection-limits.js';
export type { EntryCandidate, EntryPort, EntryWorkload, Location, Resolution, ServiceEntryView } from './service-entries.js';
