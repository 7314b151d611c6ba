import type { TrustBundle } from './bundle.js';
import { basicConstraints, isSigningCA, issuedBy, keyUsage, parseCert, parseCertChain, spiffeIdFromSan, type ParsedCert } from './certs.js';
import { IdentityError } from './errors.js';
import type { SpiffeId } from './spiffe.js';
import { timeProblem } from './validity.js';
import { x509 } from './x509.js';

/**
 * Verifies a peer's X509-SVID chain against a trust bundle, independently of
 * node:tls: the daemon calls it on every inbound HBONE connection to get the
 * caller's SPIFFE ID, and it must give the same answer whether or not TLS
 * already checked the chain. Synchronous (signature checks run in OpenSSL via
 * node:crypto) so it can sit in a 'secureConnection' handler.
 */

/** What node:tls `getPeerCertificate(true)` and `getPeerX509Certificate()` return: DER in `.raw`, issuer linked. */
export interface PeerCertLike {
  readonly raw: Uint8Array;
  readonly issuerCertificate?: PeerCertLike | undefined;
}

/** A chain, leaf first: PEM text (one or many certs), DER, a TLS peer certificate, or an array of PEM/DER. */
export type PeerChainInput = string | Uint8Array | PeerCertLike | ReadonlyArray<string | Uint8Array>;

export interface VerifyOptions {
  /** The clock; tests move it to check expiry without waiting. */
  now?: Date;
  /**
   * The TLS role the peer authenticates in: a leaf whose extended key usage
   * is present must then allow it (RFC 5280 4.2.1.12), as OpenSSL's
   * sslclient/sslserver purposes require. Absent: EKU is not looked at.
   */
  purpose?: 'client' | 'server';
}

export interface VerifiedPeer {
  readonly spiffeId: SpiffeId;
  /** Leaf serial, lowercase hex. */
  readonly serial: string;
  readonly notAfter: Date;
  /** Certificates from leaf to root inclusive. */
  readonly pathLength: number;
}

// A mesh chain is leaf, at most a couple of intermediates, root. Bounding it
// bounds the work a hostile peer can make us do.
const MAX_CHAIN = 8;

// Extensions we understand. RFC 5280 says a critical extension one does not
// process must fail validation; name constraints are among those for now.
const KNOWN_EXTENSIONS = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.14', '2.5.29.35']);

function untrusted(message: string, context: Record<string, unknown> = {}): IdentityError {
  return new IdentityError('EIDENTITY_UNTRUSTED', message, context);
}

function chainCerts(input: PeerChainInput): ParsedCert[] {
  if (typeof input === 'string') return parseCertChain(input, 'peer certificate');
  if (input instanceof Uint8Array) return [parseCert(input, 'peer certificate')];
  if (Array.isArray(input)) {
    return (input as ReadonlyArray<string | Uint8Array>).flatMap((item) => chainCerts(item));
  }
  const certs: ParsedCert[] = [];
  const seen = new Set<PeerCertLike>();
  // node:tls links the root's issuerCertificate to itself, so stop on a repeat.
  for (let c: PeerCertLike | undefined = input as PeerCertLike; c && !seen.has(c) && certs.length <= MAX_CHAIN; c = c.issuerCertificate) {
    seen.add(c);
    if (c.raw?.length) certs.push(parseCert(c.raw, 'peer certificate'));
  }
  return certs;
}

const anchorCache = new WeakMap<TrustBundle, ParsedCert[]>();

function anchorsOf(bundle: TrustBundle): ParsedCert[] {
  let anchors = anchorCache.get(bundle);
  if (!anchors) {
    anchors = bundle.roots.map((pem) => parseCert(pem, 'trust root'));
    anchorCache.set(bundle, anchors);
  }
  return anchors;
}

/**
 * Depth-first search for leaf → … → anchor. It tries every candidate issuer,
 * not just the first name match, because during a rotation two roots may
 * share a subject name and only the key identifiers and signatures tell them apart.
 */
function buildPath(cert: ParsedCert, pool: ParsedCert[], anchors: ParsedCert[], path: ParsedCert[]): ParsedCert[] | undefined {
  if (path.length >= MAX_CHAIN) return undefined;
  for (const anchor of anchors) {
    if (issuedBy(cert, anchor)) return [...path, cert, anchor];
  }
  for (const candidate of pool) {
    if (candidate === cert || path.includes(candidate) || !issuedBy(cert, candidate)) continue;
    const found = buildPath(candidate, pool, anchors, [...path, cert]);
    if (found) return found;
  }
  return undefined;
}

function describe(c: ParsedCert): string {
  const san = c.cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.find((n) => n.type === 'url');
  return c.cert.subject || san?.value || `serial ${c.cert.serialNumber}`;
}

function checkExtensions(c: ParsedCert): void {
  const unknown = c.cert.extensions.find((e) => e.critical && !KNOWN_EXTENSIONS.has(e.type));
  if (unknown) throw untrusted(`${describe(c)} has critical extension ${unknown.type} that ambit does not process`, { extension: unknown.type });
}

/** Same subject and issuer name: RFC 5280 leaves such (key rollover) certs out of path lengths. */
function selfIssued(c: ParsedCert): boolean {
  return Buffer.from(c.cert.subjectName.toArrayBuffer()).equals(Buffer.from(c.cert.issuerName.toArrayBuffer()));
}

function checkCAs(path: ParsedCert[]): void {
  // path[0] is the leaf; path[i] for i >= 1 signed the CA certificates path[1 .. i-1].
  let below = 0;
  for (let i = 1; i < path.length; i++) {
    const ca = path[i]!;
    if (!isSigningCA(ca)) throw untrusted(`${describe(ca)} signs certificates but is not a CA`, { subject: ca.cert.subject });
    const pathLength = basicConstraints(ca)?.pathLength;
    if (pathLength !== undefined && below > pathLength) {
      throw untrusted(`${describe(ca)} allows ${pathLength} intermediate CAs below it, the chain has ${below}`, { subject: ca.cert.subject });
    }
    if (!selfIssued(ca)) below++;
  }
}

function checkTimes(path: ParsedCert[], now: Date): void {
  for (const c of path) {
    const problem = timeProblem(c.cert.notBefore, c.cert.notAfter, now);
    if (!problem) continue;
    throw new IdentityError('EIDENTITY_EXPIRED', `certificate ${describe(c)} ${problem} (now ${now.toISOString()})`, {
      subject: describe(c),
      notBefore: c.cert.notBefore.toISOString(),
      notAfter: c.cert.notAfter.toISOString(),
    });
  }
}

/** The X509-SVID rules for the certificate that authenticates: not a CA, cannot sign certs. */
function checkLeaf(leaf: ParsedCert): void {
  const usage = keyUsage(leaf);
  const signs = usage !== undefined && (usage & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0;
  const noSignature = usage !== undefined && (usage & x509.KeyUsageFlags.digitalSignature) === 0;
  if (basicConstraints(leaf)?.ca === true || signs || noSignature) {
    throw new IdentityError('EIDENTITY_NOT_LEAF', `${describe(leaf)} is a CA or signing certificate and cannot authenticate a workload`, {
      subject: leaf.cert.subject,
    });
  }
}

const PURPOSE_OID = { client: '1.3.6.1.5.5.7.3.2', server: '1.3.6.1.5.5.7.3.1' } as const;
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

function checkPurpose(leaf: ParsedCert, purpose: 'client' | 'server' | undefined): void {
  const eku = purpose && leaf.cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku) return;
  const usages = eku.usages.map(String);
  if (usages.includes(PURPOSE_OID[purpose]) || usages.includes(ANY_EXTENDED_KEY_USAGE)) return;
  throw new IdentityError(
    'EIDENTITY_WRONG_PURPOSE',
    `${describe(leaf)} may not authenticate a TLS ${purpose}: its extended key usage is ${usages.join(', ')}`,
    {
      subject: leaf.cert.subject,
      purpose,
      usages,
    },
  );
}

export function verifyPeerChain(input: PeerChainInput, bundle: TrustBundle, options: VerifyOptions = {}): VerifiedPeer {
  const now = options.now ?? new Date();
  const certs = chainCerts(input);
  const leaf = certs[0];
  if (!leaf) throw untrusted('the peer presented no certificate');
  if (certs.length > MAX_CHAIN) throw untrusted(`the peer chain has ${certs.length} certificates, more than ${MAX_CHAIN}`);
  const anchors = anchorsOf(bundle);
  // A root sent by the peer counts only as one of our anchors, never as an intermediate.
  const pool = certs.slice(1).filter((c) => !anchors.some((a) => a.der.equals(c.der)));
  const path = buildPath(leaf, pool, anchors, []);
  if (!path) {
    throw untrusted(
      `certificate ${describe(leaf)} (issuer ${leaf.cert.issuer || 'empty'}) does not chain to a root of the trust bundle for ${bundle.trustDomain}`,
      {
        issuer: leaf.cert.issuer,
        trustDomain: bundle.trustDomain,
      },
    );
  }
  path.forEach(checkExtensions);
  checkCAs(path);
  checkTimes(path, now);
  checkLeaf(leaf);
  checkPurpose(leaf, options.purpose);
  const spiffeId = spiffeIdFromSan(leaf.cert.getExtension(x509.SubjectAlternativeNameExtension), `certificate ${describe(leaf)}`);
  if (spiffeId.path === '') {
    throw new IdentityError('EIDENTITY_NO_SPIFFE_ID', `${spiffeId.uri} names a trust domain, not a workload`, { spiffeId: spiffeId.uri });
  }
  if (spiffeId.trustDomain !== bundle.trustDomain) {
    throw new IdentityError('EIDENTITY_WRONG_TRUST_DOMAIN', `peer identity ${spiffeId.uri} is not in trust domain ${bundle.trustDomain}`, {
      spiffeId: spiffeId.uri,
      trustDomain: bundle.trustDomain,
    });
  }
  return { spiffeId, serial: leaf.cert.serialNumber, notAfter: leaf.cert.notAfter, pathLength: path.length };
}
