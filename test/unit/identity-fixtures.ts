/**
 * Helpers shared by the identity tests: running the real openssl binary,
 * temporary directories, and issuing a leaf in one call.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import {
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  verifyCsr,
  type CryptoKeyPair,
  type IssuedCertificate,
  type SigningCA,
} from '../../core/identity/index.js';

export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function openssl(args: string[], cwd?: string): Promise<OpensslResult> {
  return new Promise((resolve) => {
    execFile('openssl', args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A private temporary directory removed when the test ends, pass or fail. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-identity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes named files into `dir` and returns their paths. */
export async function writeFiles<K extends string>(dir: string, files: Record<K, string>): Promise<Record<K, string>> {
  const paths = {} as Record<K, string>;
  for (const [name, text] of Object.entries(files) as [K, string][]) {
    paths[name] = join(dir, name);
    await writeFile(paths[name], text);
  }
  return paths;
}

export interface Workload {
  keys: CryptoKeyPair;
  keyPem: string;
  issued: IssuedCertificate;
}

/** Key, CSR, verification and signing in one go, as the daemon and signer will do it. */
export async function issueFor(ca: SigningCA, spiffeId: string, ttlSeconds = 600, now?: Date): Promise<Workload> {
  const keys = await generateKeyPair();
  const csr = await createCsr(spiffeId, keys);
  const verified = await verifyCsr(csr, { trustDomain: ca.trustDomain });
  const issued = await issueCertificate(ca, verified, { ttlSeconds, ...(now ? { now } : {}) });
  return { keys, keyPem: await exportPrivateKeyPem(keys.privateKey), issued };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
