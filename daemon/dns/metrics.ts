/**
 * The DNS server's metrics hook. The server only reports what happened; the
 * daemon's prom-client wiring turns events into counters and histograms, so
 * this module stays free of any metrics library.
 */
import type { Transport } from './forwarder.js';

/**
 * - answered: from the mesh (including NODATA, e.g. AAAA for a v4-only VIP)
 * - forwarded: relayed from an upstream, whatever its rcode
 * - nxdomain: a name under svc.<domain> the mesh does not know
 * - servfail: upstreams failed or timed out, lookup threw, or the server was overloaded
 * - malformed: undecodable or not a single-question query (FORMERR or dropped)
 * - notimp: an opcode other than QUERY
 */
export type DnsResult = 'answered' | 'forwarded' | 'nxdomain' | 'servfail' | 'malformed' | 'notimp';

export interface DnsQueryEvent {
  /** Question type ("A", "AAAA", "UNKNOWN_65", ...), or "NONE" when there was no readable question. */
  type: string;
  result: DnsResult;
  transport: Transport;
  durationMs: number;
}

export interface DnsMetrics {
  onQuery(event: DnsQueryEvent): void;
}
