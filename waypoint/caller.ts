/** Who is on the other end of a tunnel, as the HBONE handshake proved it. */
export interface Caller {
  /** Verified SPIFFE ID of the HBONE peer. */
  principal: string;
  address: string;
}

/** The namespace in a SPIFFE ID (`…/ns/<ns>/sa/<sa>`), for metrics and short-name routing. */
export const namespaceOf = (principal: string): string => /\/ns\/([^/]+)\//.exec(principal)?.[1] ?? 'unknown';
