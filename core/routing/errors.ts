import { AmbitError } from '../errors.js';

/**
 * Why routing config could not be compiled. Codes are stable: the waypoint
 * logs them and tests match them.
 */
export type RoutingErrorCode =
  /** A resource handed to compileRoutes is not the kind expected there. */
  | 'EROUTE_KIND'
  /** A regex in a match does not compile (it passed validation, so this is a bug or an unnormalized spec). */
  | 'EROUTE_REGEX'
  /** A route's destination weights do not add up to 100 (the spec was not normalized). */
  | 'EROUTE_WEIGHTS';

export class RoutingError extends AmbitError<RoutingErrorCode> {}
