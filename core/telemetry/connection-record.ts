/**
 * One connection as the destination's ambitd saw it, for `ambit tap` on a
 * service without a waypoint: who (the verified identity, or none for
 * plaintext), from where, to which endpoint of which service, the
 * authorization decision, and, for an allowed one, its bytes and duration once
 * it closed. Shared by ambitd (daemon/connection-tap.ts) and the CLI.
 */
export interface ConnectionRecord {
  /** When it opened (for a refused one: when it was refused). */
  start_time: string;
  duration_ms: number;
  /** The caller's SPIFFE ID; absent for plaintext from a caller the mesh cannot name. */
  source_principal?: string;
  source_address: string;
  /** The endpoint, address:port. */
  destination: string;
  destination_service: string;
  security: 'mutual_tls' | 'none';
  authz: 'allow' | 'deny';
  /** For a denial: the AuthorizationPolicy (ns/name) that decided, if one did, and why. */
  authz_policy?: string;
  authz_reason?: string;
  /** Bytes from the caller, and to it. */
  bytes_received: number;
  bytes_sent: number;
  /** How it ended, when not cleanly (an error code). */
  error?: string;
}
