import { AmbitError } from '../core/errors.js';

/** Why the waypoint could not start or could not reach an upstream. Codes are stable: logs, metrics and tests use them. */
export type WaypointErrorCode =
  /** No HBONE stream to the chosen endpoint (peer unreachable, CONNECT refused or denied). */
  | 'EWAYPOINT_CONNECT'
  /** A reused upstream connection was closed by the endpoint before the request was written on it. */
  | 'EWAYPOINT_STALE'
  /** Command-line or environment settings are missing or invalid. */
  | 'EWAYPOINT_CONFIG';

export class WaypointError extends AmbitError<WaypointErrorCode> {}
