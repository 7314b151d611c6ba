import { authorityKeyIdFor, parseCert, type ParsedCert } from './certs.js';
import { generateKeyPair } from './keys.js';
import { assertTrustDomain, DEFAULT_TRUST_DOMAIN, trustDomainId } from './spiffe.js';
import { randomSerialHex, validityWindow } from './validity.js';
import { x509, type CryptoKeyPair } from './x509.js';

/**
 * A CA that can sign: its certificate, its key, and what a verifier needs
 * between it and the trust anchor. For `ambit ca init` the signer is the
 * self-signed root itself; with a plug-in CA it is an intermediate under
 * the operator's root.
 */
export interface SigningCA {
  readonly trustDomain: string;
  readonly signer: ParsedCert;
  readonly keys: CryptoKeyPair;
  /** Certificates from the signer up to (not including) the root, signer first; sent with every leaf. */
  readonly chain: readonly ParsedCert[];
  /** The trust anchor that goes into trust bundles. */
  readonly root: ParsedCert;
  /** The earliest notAfter along signer → root: no leaf may outlive it. */
  readonly notAfter: Date;
}

const YEAR_SECONDS = 365 * 24 * 3600;
export const DEFAULT_ROOT_TTL_SECONDS = 10 * YEAR_SECONDS;
export const DEFAULT_INTERMEDIATE_TTL_SECONDS = YEAR_SECONDS;

export interface CreateRootOptions {
  trustDomain?: string;
  ttlSeconds?: number;
  /** Subject CN; default `ambit root CA <trust-domain>`. */
  commonName?: string;
  /** Put `spiffe://<td>` in a URI SAN, as SPIFFE asks of signing certs (default true). */
  spiffeSan?: boolean;
  /** Bring a key instead of generating one. */
  keys?: CryptoKeyPair;
  now?: Date;
}

function caExtensions(trustDomain: string, spiffeSan: boolean, pathLength?: number): x509.Extension[] {
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  if (spiffeSan) exts.push(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomainId(trustDomain).uri }]));
  return exts;
}

/** Escapes a DN attribute value so a trust domain cannot inject RDNs. */
function dnValue(value: string): string {
  return value.replace(/([\\,+"<>;=#])/g, '\\$1');
}

export function earliestNotAfter(certs: readonly ParsedCert[]): Date {
  return new Date(Math.min(...certs.map((c) => c.cert.notAfter.getTime())));
}

/** A new self-signed mesh root that signs leaves directly. */
export async function createRootCA(options: CreateRootOptions = {}): Promise<SigningCA> {
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  assertTrustDomain(trustDomain);
  const keys = options.keys ?? (await generateKeyPair());
  const window = validityWindow(options.ttlSeconds ?? DEFAULT_ROOT_TTL_SECONDS, options.now ?? new Date());
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: `O=ambit, CN=${dnValue(options.commonName ?? `ambit root CA ${trustDomain}`)}`,
    notBefore: window.notBefore,
    notAfter: window.notAfter,
    keys,
    extensions: [...caExtensions(trustDomain, options.spiffeSan ?? true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  const root = parseCert(new Uint8Array(cert.rawData), 'root CA');
  return { trustDomain, signer: root, keys, chain: [], root, notAfter: root.cert.notAfter };
}

export interface CreateIntermediateOptions {
  /** The CA that signs the intermediate: usually the operator's root, loaded with loadCA. */
  parent: SigningCA;
  trustDomain?: string;
  ttlSeconds?: number;
  /** Subject CN; default `ambit intermediate CA <trust-domain>`. */
  commonName?: string;
  keys?: CryptoKeyPair;
  now?: Date;
}

/**
 * A signing CA under an existing one (plug-in CA): the operator keeps the
 * root key offline and ambit signs with this. pathLen 0, because ambit
 * issues leaves only and a stolen intermediate must not mint further CAs.
 */
export async function createIntermediateCA(options: CreateIntermediateOptions): Promise<SigningCA> {
  const { parent } = options;
  const trustDomain = options.trustDomain ?? parent.trustDomain;
  assertTrustDomain(trustDomain);
  const keys = options.keys ?? (await generateKeyPair());
  const window = validityWindow(options.ttlSeconds ?? DEFAULT_INTERMEDIATE_TTL_SECONDS, options.now ?? new Date(), parent.notAfter);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: `O=ambit, CN=${dnValue(options.commonName ?? `ambit intermediate CA ${trustDomain}`)}`,
    // The parent's subject as it is encoded, so issuer and subject match byte for byte.
    issuer: parent.signer.cert.subjectName,
    notBefore: window.notBefore,
    notAfter: window.notAfter,
    publicKey: keys.publicKey,
    signingKey: parent.keys.privateKey,
    extensions: [
      ...caExtensions(trustDomain, true, 0),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyIdFor(parent.signer.cert),
    ],
  });
  const signer = parseCert(new Uint8Array(cert.rawData), 'intermediate CA');
  const chain = [signer, ...parent.chain];
  return { trustDomain, signer, keys, chain, root: parent.root, notAfter: earliestNotAfter([...chain, parent.root]) };
}
