/**
 * The operator key: what signs the security manifest (policy and enrollments),
 * so the store alone cannot grant an identity or relax a policy. It is made on
 * the operator's machine, next to the CA directory (`/etc/ambit/ca` ->
 * `/etc/ambit/operator`, as ca-dir.ts lays the CA out) and never leaves it;
 * the CA issues it a certificate `spiffe://<td>/ambit/operator/<name>`, so a
 * daemon checks an operator signature with nothing but the trust bundle it
 * already holds: no second key to distribute. Files: operator-key.pem (0600),
 * operator-cert.pem (leaf, then the CA's chain).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SigningCA } from './ca.js';
import { createCsr, verifyCsr } from './csr.js';
import { IdentityError } from './errors.js';
import { readTextFile, writeFileSecure } from './files.js';
import { certInfo } from './info.js';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from './keys.js';
import { issueCertificate } from './sign.js';
import { operatorId, parseSpiffeId, type OperatorSpiffeId } from './spiffe.js';
import { splitPemCerts } from './x509.js';

export const DEFAULT_OPERATOR_DIR = '/etc/ambit/operator';
export const DEFAULT_OPERATOR_NAME = 'admin';
/** A year: an operator certificate is re-issued by `ambit operator init --force` or at a root rotation. */
export const OPERATOR_CERT_TTL_SECONDS = 365 * 24 * 3600;

export interface Operator {
  readonly spiffeId: OperatorSpiffeId;
  readonly key: KeyObject;
  /** The operator certificate followed by the CA's chain (not the root). */
  readonly chainPem: string;
  readonly notAfter: Date;
  /**
   * Roots this operator trusts (roots.pem, written when its certificate was
   * issued): the CLI checks the manifest it re-signs against them, so it never
   * re-signs entries the store slipped in.
   */
  readonly roots: readonly string[];
}

/** The operator directory that goes with a CA directory: its sibling `operator/`. */
export function operatorDirFor(caDir: string): string {
  return join(dirname(caDir), 'operator');
}

export function operatorFiles(dir: string): { key: string; cert: string; roots: string } {
  return { key: join(dir, 'operator-key.pem'), cert: join(dir, 'operator-cert.pem'), roots: join(dir, 'roots.pem') };
}

export async function hasOperatorKey(dir: string): Promise<boolean> {
  return access(operatorFiles(dir).key).then(
    () => true,
    () => false,
  );
}

/**
 * A certificate from `ca` for the operator key in `dir`, making the key first
 * if there is none (a key already there is kept: re-issuing under a new root
 * at a rotation must not change who the operator is).
 */
export async function issueOperator(ca: SigningCA, dir: string, options: { name?: string } = {}): Promise<Operator> {
  const files = operatorFiles(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let keyPem: string;
  if (await hasOperatorKey(dir)) keyPem = await readTextFile(files.key, 'operator key');
  else {
    keyPem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);
    await writeFileSecure(files.key, keyPem, { mode: 0o600 });
  }
  const name = options.name ?? (await existingName(dir)) ?? DEFAULT_OPERATOR_NAME;
  const id = operatorId(ca.trustDomain, name);
  const csr = await verifyCsr(await createCsr(id, await importPrivateKeyPem(keyPem)), { trustDomain: ca.trustDomain, expected: id });
  const issued = await issueCertificate(ca, csr, { ttlSeconds: OPERATOR_CERT_TTL_SECONDS });
  await writeFileSecure(files.cert, issued.chainPem, { mode: 0o644, overwrite: true });
  // The previous root stays trusted too: mid-rotation the stored manifest is still signed under it.
  const roots = [...new Set([...(await readRoots(dir)).slice(-1), ca.root.pem])];
  await writeFileSecure(files.roots, roots.join(''), { mode: 0o644, overwrite: true });
  return { spiffeId: id, key: createPrivateKey(keyPem), chainPem: issued.chainPem, notAfter: issued.notAfter, roots };
}

/** The roots in the operator directory's roots.pem (none when it has no such file). */
export async function readRoots(dir: string): Promise<string[]> {
  try {
    return splitPemCerts(await readTextFile(operatorFiles(dir).roots, 'operator roots'));
  } catch {
    return [];
  }
}

async function existingName(dir: string): Promise<string | undefined> {
  try {
    const id = certInfo(await readTextFile(operatorFiles(dir).cert, 'operator certificate')).spiffeId;
    const parsed = id ? parseSpiffeId(id) : undefined;
    return parsed?.kind === 'operator' ? parsed.operator : undefined;
  } catch {
    return undefined;
  }
}

/** The operator key and certificate in `dir`; EIDENTITY_NO_OPERATOR_KEY, saying what to run, when absent. */
export async function loadOperator(dir: string): Promise<Operator> {
  const files = operatorFiles(dir);
  let keyPem: string;
  let chainPem: string;
  try {
    [keyPem, chainPem] = await Promise.all([readTextFile(files.key, 'operator key'), readTextFile(files.cert, 'operator certificate')]);
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'EIDENTITY_FILE_NOT_FOUND') {
      throw new IdentityError(
        'EIDENTITY_NO_OPERATOR_KEY',
        `no operator key in ${dir}: changes to policy and enrollments must be signed; run \`ambit operator init\` where the CA is, or pass --operator-dir`,
        { dir },
        { cause: err },
      );
    }
    throw err;
  }
  const info = certInfo(chainPem);
  const id = info.spiffeId ? parseSpiffeId(info.spiffeId) : undefined;
  if (id?.kind !== 'operator') {
    throw new IdentityError('EIDENTITY_NO_OPERATOR_KEY', `${files.cert} names ${info.spiffeId ?? 'no SPIFFE ID'}, not spiffe://<td>/ambit/operator/<name>`, {
      dir,
    });
  }
  return { spiffeId: id, key: createPrivateKey(keyPem), chainPem, notAfter: info.notAfter, roots: await readRoots(dir) };
}
