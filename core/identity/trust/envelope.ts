/**
 * A detached signature over one of ambit's own records (the trust bundle, the
 * security manifest), made with a key whose certificate chains to a trusted
 * root. It is what lets a reader take a record from the store without taking
 * the store's word for it: the store holds the envelope but not the key.
 *
 * The bytes signed are `<domain>\n<payload>`, so a signature made for one kind
 * of record never verifies as another (a bundle signature replayed as a
 * manifest). The payload is kept as the exact text that was signed: readers
 * verify those bytes, then parse them, and never re-serialize before checking.
 */
import { createPrivateKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { exportPrivateKeyPem } from '../keys.js';
import { splitPemCerts } from '../x509.js';
import type { CryptoKey } from '../x509.js';

export interface SignedEnvelope {
  /** The signed text (canonical JSON of the record). */
  readonly payload: string;
  /** PEM: the signing certificate first, then the intermediates up to (not including) a root. */
  readonly chain: string;
  /** Base64 of the DER signature (ECDSA or RSA PKCS#1 v1.5, SHA-256). */
  readonly signature: string;
}

export type EnvelopeDomain = 'ambit-trust-bundle-v1' | 'ambit-security-manifest-v1' | 'ambit-join-token-v1';

function signedBytes(domain: EnvelopeDomain, payload: string): Buffer {
  return Buffer.from(`${domain}\n${payload}`, 'utf8');
}

/** A WebCrypto key (CAs, from @peculiar/x509) or a PEM text, as node:crypto wants it. */
export async function toKeyObject(key: CryptoKey | string): Promise<KeyObject> {
  return createPrivateKey(typeof key === 'string' ? key : await exportPrivateKeyPem(key));
}

export function signEnvelope(domain: EnvelopeDomain, payload: string, key: KeyObject, chainPem: string): SignedEnvelope {
  return { payload, chain: chainPem, signature: sign('sha256', signedBytes(domain, payload), key).toString('base64') };
}

/**
 * Whether the first certificate of the chain signed the payload. Says nothing
 * about whether that certificate is trusted: callers check its chain first.
 */
export function signatureValid(domain: EnvelopeDomain, envelope: SignedEnvelope): boolean {
  const first = splitPemCerts(envelope.chain)[0];
  if (!first) return false;
  try {
    const cert = new X509Certificate(first);
    return verify('sha256', signedBytes(domain, envelope.payload), cert.publicKey, Buffer.from(envelope.signature, 'base64'));
  } catch {
    return false;
  }
}

/** The stored form. */
export function serializeEnvelope(envelope: SignedEnvelope): string {
  return JSON.stringify({ payload: envelope.payload, chain: envelope.chain, signature: envelope.signature });
}

/** Parses the stored form; undefined when it is not one (the caller reports why it refused). */
export function parseEnvelope(text: string): SignedEnvelope | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const { payload, chain, signature } = data as Record<string, unknown>;
  if (typeof payload !== 'string' || typeof chain !== 'string' || typeof signature !== 'string') return undefined;
  if (Object.keys(data).length !== 3) return undefined;
  return { payload, chain, signature };
}
