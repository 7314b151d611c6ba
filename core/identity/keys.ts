import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { IdentityError } from './errors.js';
import { readTextFile, writeFileSecure } from './files.js';
import { EC_P256, subtle, toPem, type CryptoKey, type CryptoKeyPair } from './x509.js';

/**
 * Key pairs for CAs, nodes and workloads. ambit itself only makes ECDSA
 * P-256 keys (small certs, fast handshakes, what Istio uses); importing also
 * accepts P-384 and RSA >= 2048 because an operator's own root (plug-in CA)
 * is often one of those.
 */

/** A fresh P-256 key pair. Extractable, because the caller writes it to disk. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

/** PKCS#8 PEM (`BEGIN PRIVATE KEY`) of a private key. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** DER SubjectPublicKeyInfo: the form certificates carry, used to compare keys. */
export async function publicKeySpki(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('spki', key));
}

type ImportAlgorithm = { name: 'ECDSA'; namedCurve: string } | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

function algorithmFor(key: KeyObject): ImportAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { name: 'ECDSA', namedCurve: 'P-256' };
    if (details.namedCurve === 'secp384r1') return { name: 'ECDSA', namedCurve: 'P-384' };
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) {
    return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
  const what = key.asymmetricKeyType === 'ec' ? `EC ${details.namedCurve}` : `${key.asymmetricKeyType} ${details.modulusLength ?? ''}`.trim();
  throw new IdentityError('EIDENTITY_UNSUPPORTED_KEY', `unsupported private key type ${what}: use ECDSA P-256 (or P-384, RSA >= 2048 for an imported root)`, {
    type: what,
  });
}

/**
 * Reads a PEM private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, as
 * `openssl ecparam -genkey` writes) into a WebCrypto key pair; the public half
 * is derived, since PKCS#8 need not carry it.
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKeyPair> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new IdentityError('EIDENTITY_BAD_PEM', `not a readable PEM private key: ${(err as Error).message}`, {}, { cause: err });
  }
  const algorithm = algorithmFor(keyObject);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, algorithm, true, ['verify']);
  return { privateKey, publicKey };
}

/** Writes a private key as PKCS#8 PEM, mode 0600; refuses to replace a file unless `overwrite`. */
export async function writeKeyFile(path: string, key: CryptoKey, options: { overwrite?: boolean } = {}): Promise<void> {
  await writeFileSecure(path, await exportPrivateKeyPem(key), { mode: 0o600, overwrite: options.overwrite ?? false });
}

export async function readKeyFile(path: string): Promise<CryptoKeyPair> {
  return importPrivateKeyPem(await readTextFile(path, 'private key'));
}
