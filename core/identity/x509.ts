/**
 * The one place that loads @peculiar/x509. It resolves its algorithm
 * providers through tsyringe, which refuses to start without the
 * reflect-metadata polyfill, so that import must be evaluated first (ESM
 * evaluates imports in order). It also needs a WebCrypto implementation; we
 * hand it Node's own so keys and signatures stay in OpenSSL.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library's typings name DOM globals (Crypto, CryptoKey) that this
// Node-only project does not load; Node's webcrypto is the same interface.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };

/** Node's WebCrypto types, named once so callers need not spell `webcrypto.`. */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const subtle = webcrypto.subtle;

/** The only algorithm ambit generates keys and signatures with. */
export const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate block in a PEM text, in order (a chain file holds several). */
export function splitPemCerts(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

/** DER bytes to a single PEM block; lines of 64 as RFC 7468 asks. */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
