import { AmbitError } from '../errors.js';

/**
 * Why a snapshot could not become a mesh state. A proxy that gets one keeps
 * serving its previous state: stable codes, rename none of them.
 */
export type MeshErrorCode =
  /**
   * A stored security resource (AuthorizationPolicy, PeerAuthentication,
   * RequestAuthentication) fails its schema. Skipping it could drop a DENY or a
   * STRICT, so the whole snapshot is refused rather than enforced without it.
   */
  'EMESH_POLICY_INVALID';

export class MeshError extends AmbitError<MeshErrorCode> {}
