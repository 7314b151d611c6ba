import { createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';

/**
 * TLS material of one SPIFFE identity: what the daemon holds per enrolled
 * workload (client side) and for itself (server side). PEM text or buffers.
 */
export interface TlsIdentity {
  /** Private key of the leaf. */
  key: string | Buffer;
  /** Leaf certificate followed by any intermediates. */
  cert: string | Buffer;
  /** Trust bundle: the root(s) peers must chain to (two during a root rotation). */
  ca: string | Buffer | Array<string | Buffer>;
}

/** Who a peer must be: an exact SPIFFE ID, one of several, or a predicate. */
export type IdentityMatcher = string | readonly string[] | ((spiffeId: string) => boolean);

export const ALPN_H2 = ['h2'];

/**
 * HBONE is TLS 1.3 only, like ztunnel. AES-128-GCM first: on AES-NI machines it
 * encrypts noticeably faster than AES-256-GCM at the same 128-bit security
 * level that P-256 keys give anyway (bench/hbone-throughput.ts measures it).
 */
export const TLS_MIN_VERSION = 'TLSv1.3';
export const TLS13_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

// Parsing PEM into an OpenSSL context costs about a millisecond; a pooled
// client dials often, so each TlsIdentity object gets its context built once.
// Rotation hands over a new object, which gets a new context.
const contexts = new WeakMap<TlsIdentity, SecureContext>();

export function secureContextFor(identity: TlsIdentity): SecureContext {
  let context = contexts.get(identity);
  if (!context) {
    context = createSecureContext({
      key: identity.key,
      cert: identity.cert,
      ca: identity.ca,
      minVersion: TLS_MIN_VERSION,
      ciphers: TLS13_CIPHERSUITES,
    });
    contexts.set(identity, context);
  }
  return context;
}

/**
 * The SPIFFE ID of a verified peer certificate: its one `spiffe://` URI SAN.
 * Undefined when there is none or more than one (the SVID standard allows
 * exactly one, and two would make authorization ambiguous).
 */
export function spiffeIdOf(cert: PeerCertificate | undefined | null): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  let found: string | undefined;
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('URI:spiffe://')) continue;
    if (found !== undefined) return undefined;
    found = entry.slice(4);
  }
  return found;
}

export function identityMatches(matcher: IdentityMatcher, spiffeId: string): boolean {
  if (typeof matcher === 'string') return matcher === spiffeId;
  if (typeof matcher === 'function') return matcher(spiffeId);
  return matcher.includes(spiffeId);
}
