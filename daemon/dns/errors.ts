import { AmbitError } from '../../core/errors.js';

/**
 * Every way the DNS server can fail, as stable codes for logs, metrics and
 * tests. Per-query failures never escape as exceptions: the client gets
 * SERVFAIL and the error is logged with its code.
 */
export type DnsErrorCode =
  /** The UDP or TCP listener could not bind (port in use, no such address). */
  | 'EDNS_BIND'
  /** There is no upstream resolver to forward to (empty list, or only ourselves). */
  | 'EDNS_NO_UPSTREAM'
  /** No upstream answered within the forwarding budget. */
  | 'EDNS_UPSTREAM_TIMEOUT'
  /** Every upstream refused the connection or failed at the socket level. */
  | 'EDNS_UPSTREAM_UNREACHABLE'
  /** Too many forwarded queries are outstanding; this one was shed. */
  | 'EDNS_OVERLOADED'
  /** An upstream address (`ip`, `ip:port`, `[v6]:port`) could not be parsed. */
  | 'EDNS_BAD_UPSTREAM'
  /** The mesh lookup function threw. */
  | 'EDNS_LOOKUP';

export class DnsError extends AmbitError<DnsErrorCode> {}
