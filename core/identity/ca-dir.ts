/**
 * The signing CA on disk, in the operator's directory (default /etc/ambit/ca),
 * with Istio's plug-in CA file names: ca-cert.pem (signer, then its chain),
 * ca-key.pem (0600), root-cert.pem. During a root rotation the CA being
 * replaced moves to previous/, so `ca rotate --finish` knows what to drop.
 */
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createIntermediateCA, createRootCA, type SigningCA } from './ca.js';
import { loadCAFiles, writeCAFiles, type CAFiles } from './ca-load.js';
import { IdentityError } from './errors.js';

export const DEFAULT_CA_DIR = '/etc/ambit/ca';

export function caDirFiles(dir: string): Required<Omit<CAFiles, 'chainFile'>> {
  return { certFile: join(dir, 'ca-cert.pem'), keyFile: join(dir, 'ca-key.pem'), rootFile: join(dir, 'root-cert.pem') };
}

export function loadCADir(dir: string, options: { trustDomain?: string } = {}): Promise<SigningCA> {
  return loadCAFiles(caDirFiles(dir), options);
}

/** Where the operator's own CA comes from, for a plug-in CA. */
export interface CASource {
  trustDomain?: string;
  /** An operator root (with its key): ambit creates an intermediate under it and signs with that. */
  rootCert?: string;
  rootKey?: string;
  /** An operator-made intermediate (with its key) that ambit signs with directly; rootCert optional if the chain ends self-signed. */
  caCert?: string;
  caKey?: string;
}

/** The CA a source describes: a new root, an intermediate under the operator's root, or the operator's intermediate. */
export async function caFromSource(source: CASource): Promise<SigningCA> {
  const td = source.trustDomain !== undefined ? { trustDomain: source.trustDomain } : {};
  if (source.caCert || source.caKey) {
    if (!source.caCert || !source.caKey) throw new IdentityError('EIDENTITY_FILE_NOT_FOUND', 'a plug-in CA needs both --ca-cert and --ca-key');
    return loadCAFiles({ certFile: source.caCert, keyFile: source.caKey, ...(source.rootCert ? { rootFile: source.rootCert } : {}) }, td);
  }
  if (source.rootCert || source.rootKey) {
    if (!source.rootCert || !source.rootKey) throw new IdentityError('EIDENTITY_FILE_NOT_FOUND', 'an operator root needs both --root-cert and --root-key');
    const parent = await loadCAFiles({ certFile: source.rootCert, keyFile: source.rootKey }, td);
    return createIntermediateCA({ parent, ...td });
  }
  return createRootCA(td);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Writes a new CA into `dir`; refuses to replace one unless `force`. */
export async function initCADir(dir: string, source: CASource, options: { force?: boolean } = {}): Promise<SigningCA> {
  const files = caDirFiles(dir);
  if (!options.force && (await exists(files.keyFile))) {
    throw new IdentityError(
      'EIDENTITY_CA_EXISTS',
      `a CA already exists in ${dir}; pass --force to replace it (certificates it issued stop verifying once its root leaves the bundle), or use \`ambit ca rotate\``,
      { dir },
    );
  }
  const ca = await caFromSource(source);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeCAFiles(ca, files, { overwrite: true });
  return ca;
}

/** Starts a root rotation on disk: the current CA goes to previous/, the new one takes its place. */
export async function rotateCADir(dir: string, source: CASource): Promise<{ previous: SigningCA; current: SigningCA }> {
  const previous = await loadCADir(dir);
  const current = await caFromSource({ trustDomain: previous.trustDomain, ...source });
  const old = join(dir, 'previous');
  await rm(old, { recursive: true, force: true });
  await mkdir(old, { mode: 0o700 });
  const from = caDirFiles(dir);
  const to = caDirFiles(old);
  for (const k of ['certFile', 'keyFile', 'rootFile'] as const) await rename(from[k], to[k]);
  await writeCAFiles(current, from);
  return { previous, current };
}

/** The CA being rotated away from, if a rotation is under way. */
export async function loadPreviousCA(dir: string): Promise<SigningCA | undefined> {
  const old = join(dir, 'previous');
  if (!(await exists(caDirFiles(old).keyFile))) return undefined;
  return loadCADir(old);
}

/** Ends a rotation on disk: previous/ goes. */
export async function finishRotationDir(dir: string): Promise<void> {
  await rm(join(dir, 'previous'), { recursive: true, force: true });
}
