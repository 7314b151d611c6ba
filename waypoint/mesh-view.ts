/**
 * What the waypoint reads from the mesh: the same MeshState the daemon
 * builds from a store snapshot, narrowed to the lookups a waypoint makes, so
 * tests can hand it a MeshState built from plain records.
 */
import type { MeshState } from '../daemon/state.js';

export type MeshView = Pick<MeshState, 'revision' | 'resources' | 'policies' | 'serviceByVip' | 'serviceByName' | 'identityOf' | 'peerFor' | 'sourceLabels'>;
export type { ServiceView } from '../daemon/state.js';
