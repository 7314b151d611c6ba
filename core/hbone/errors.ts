import { AmbitError, type ErrorContext } from '../errors.js';
import { IdentityError } from '../identity/errors.js';

/**
 * Every way an HBONE tunnel can fail, as stable codes: the daemon turns them
 * into metric labels and access-log `result` fields, and tests assert on them,
 * so rename none of them.
 */
export type HboneErrorCode =
  /** The TLS handshake with the peer failed (untrusted chain, no client cert, protocol). */
  | 'EHBONE_TLS'
  /** The peer's certificate has no SPIFFE ID, or not the one the caller expected. */
  | 'EHBONE_PEER_IDENTITY'
  /** The peer's policy denied this connection (HTTP 401/403). */
  | 'EHBONE_DENIED'
  /** The peer will not tunnel to this :authority (not a local workload; HTTP 400/404). */
  | 'EHBONE_REFUSED'
  /** The :authority is not `ip:port`. */
  | 'EHBONE_BAD_AUTHORITY'
  /** The request was not CONNECT (HTTP 405). */
  | 'EHBONE_BAD_METHOD'
  /** The peer could not connect to the upstream (HTTP 502/503/504). */
  | 'EHBONE_UPSTREAM_UNAVAILABLE'
  /** The tunnelled TCP connection failed after it was established (RST_STREAM CONNECT_ERROR). */
  | 'EHBONE_CONNECT_ERROR'
  /** The stream was reset with another HTTP/2 error code. */
  | 'EHBONE_STREAM_RESET'
  /** The peer answered with a status ambit does not know. */
  | 'EHBONE_BAD_STATUS'
  /** The peer's address did not answer (connection refused, no route). */
  | 'EHBONE_PEER_UNREACHABLE'
  /** The session went away (closed, GOAWAY, socket error) before the tunnel was up. */
  | 'EHBONE_SESSION_CLOSED'
  /** Dial or CONNECT response took longer than the configured timeout. */
  | 'EHBONE_TIMEOUT'
  /** No usable TLS identity for the source workload (the provider threw). */
  | 'EHBONE_NO_IDENTITY'
  /** The client or server was closed by its owner. */
  | 'EHBONE_CLOSED'
  /** A connection to the server did not finish TLS and the client's SETTINGS within the handshake deadline. */
  | 'EHBONE_HANDSHAKE_TIMEOUT'
  /** A connection to the server was closed at once: its address already had the most unfinished handshakes allowed. */
  | 'EHBONE_HANDSHAKE_LIMIT'
  /** The peer did not answer an HTTP/2 PING in time; the session and its streams were destroyed. */
  | 'EHBONE_KEEPALIVE_TIMEOUT'
  /** The peer opened more concurrent streams than the server allows; that one was refused (RST_STREAM REFUSED_STREAM). */
  | 'EHBONE_STREAM_LIMIT'
  /** The peer holds as many connections to this workload as its ConnectionLimit allows one source (HTTP 503). */
  | 'EHBONE_CONNECTION_LIMIT';

export class HboneError extends AmbitError<HboneErrorCode> {}

/** RFC 9113 error codes we act on. */
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;
export const H2_CONNECT_ERROR = 0xa;

/**
 * Response header the server uses to name the HboneErrorCode behind a non-200
 * answer. HTTP statuses alone cannot tell "refused destination" from "malformed
 * authority" (both 400, as ztunnel answers); peers that do not send it (ztunnel)
 * are mapped from the status.
 */
export const ERROR_HEADER = 'ambit-hbone-error';

const STATUS_CODES: Record<number, HboneErrorCode> = {
  400: 'EHBONE_REFUSED',
  401: 'EHBONE_DENIED',
  403: 'EHBONE_DENIED',
  404: 'EHBONE_REFUSED',
  405: 'EHBONE_BAD_METHOD',
  502: 'EHBONE_UPSTREAM_UNAVAILABLE',
  503: 'EHBONE_UPSTREAM_UNAVAILABLE',
  504: 'EHBONE_UPSTREAM_UNAVAILABLE',
};

const KNOWN_CODES = new Set<string>([
  'EHBONE_PEER_IDENTITY',
  'EHBONE_DENIED',
  'EHBONE_REFUSED',
  'EHBONE_BAD_AUTHORITY',
  'EHBONE_BAD_METHOD',
  'EHBONE_UPSTREAM_UNAVAILABLE',
  'EHBONE_CLOSED',
  'EHBONE_CONNECTION_LIMIT',
]);

/** The client's view of a non-200 CONNECT response. */
export function errorFromStatus(status: number, headerCode: unknown, context: ErrorContext): HboneError {
  const named = typeof headerCode === 'string' && KNOWN_CODES.has(headerCode) ? (headerCode as HboneErrorCode) : undefined;
  const code = named ?? STATUS_CODES[status] ?? 'EHBONE_BAD_STATUS';
  return new HboneError(code, `HBONE peer answered ${status} (${code}) for ${String(context.authority)}`, { ...context, status });
}

/** The client's view of a reset stream. */
export function errorFromReset(rstCode: number, context: ErrorContext, cause?: unknown): HboneError {
  if (rstCode === H2_CONNECT_ERROR) {
    return new HboneError(
      'EHBONE_CONNECT_ERROR',
      `tunnelled connection to ${String(context.authority)} failed (RST_STREAM CONNECT_ERROR)`,
      { ...context, rstCode },
      { cause },
    );
  }
  return new HboneError(
    'EHBONE_STREAM_RESET',
    `HBONE stream to ${String(context.authority)} was reset (HTTP/2 code 0x${rstCode.toString(16)})`,
    { ...context, rstCode },
    { cause },
  );
}

/**
 * The label a failed handshake is counted and logged under: the innermost
 * code on the error's cause chain (EIDENTITY_* when ambit's own peer
 * verification refused, ERR_SSL_* from OpenSSL, ECONNRESET), else TLS.
 */
export function handshakeReason(err: unknown): string {
  let reason = 'TLS';
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && e.code !== '') reason = e.code;
  }
  return reason;
}

/**
 * How loudly to log a failed handshake: warn when ambit's own peer
 * verification (an IdentityError on the cause chain) refused a certificate
 * OpenSSL accepted, i.e. one a CA we trust signed; info for the rest (scanners, resets, timeouts).
 */
export function handshakeLogLevel(err: unknown): 'warn' | 'info' {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 4; e = e.cause as typeof e, depth++) {
    if (e instanceof IdentityError) return 'warn';
  }
  return 'info';
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN']);

/**
 * The client's view of a session-level failure (dial, TLS, socket). Node
 * wraps the cause of a cancelled stream (ERR_HTTP2_STREAM_CANCEL) in `cause`,
 * so the chain is searched for the first code that says what happened.
 */
export function errorFromTransport(err: unknown, context: ErrorContext): HboneError {
  if (err instanceof HboneError) return err;
  for (let e = err as (NodeJS.ErrnoException & { cause?: unknown }) | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'EHBONE_PEER_IDENTITY') {
      return new HboneError('EHBONE_PEER_IDENTITY', `HBONE peer ${String(context.peer)}: ${e.message}`, context, { cause: err });
    }
    if (UNREACHABLE.has(code)) {
      return new HboneError('EHBONE_PEER_UNREACHABLE', `HBONE peer ${String(context.peer)} unreachable (${code})`, context, { cause: err });
    }
    if (code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS/.test(code)) {
      return new HboneError('EHBONE_TLS', `TLS with HBONE peer ${String(context.peer)} failed: ${e.message}`, { ...context, tlsCode: code }, { cause: err });
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HboneError('EHBONE_SESSION_CLOSED', `HBONE session to ${String(context.peer)} closed: ${message}`, context, { cause: err });
}
