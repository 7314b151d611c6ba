/**
 * The request headers a Bookinfo service copies from the request it serves to
 * the requests it makes, as Istio's Bookinfo does: the mesh cannot correlate
 * an inbound and an outbound request by itself, so tracing (traceparent, b3,
 * x-request-id) and header-based routing (end-user) only work if the
 * application forwards them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const PROPAGATED = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'end-user',
  'user-agent',
] as const;

export function propagatedHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROPAGATED) {
    const value = incoming[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/**
 * At the edge (productpage) a request may arrive without a request id or trace:
 * start them here, so every hop logs the same ids.
 */
export function withEdgeIds(headers: Record<string, string>): Record<string, string> {
  return {
    ...headers,
    'x-request-id': headers['x-request-id'] ?? randomUUID(),
    traceparent: headers.traceparent ?? `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
  };
}
