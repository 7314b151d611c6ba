/**
 * What the waypoint reads from the mesh: the same MeshState the daemon
 * builds from a store snapshot, narrowed to the lookups a waypoint makes, so
 * tests can hand it a MeshState built from plain records.
 */
import type { MeshState } from '../core/mesh/index.js';

export type MeshView = Pick<
  MeshState,
  'revision' | 'resources' | 'typed' | 'policies' | 'serviceByVip' | 'serviceByName' | 'identityOf' | 'peerFor' | 'sourceLabels' | 'callerWorkload'
>;
export type { ServiceView } from '../core/mesh/index.js';
