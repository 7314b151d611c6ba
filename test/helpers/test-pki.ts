/**
 * A throwaway mesh PKI for HBONE tests and benches, built on core/identity so
 * tests exercise the same certificates the daemon will present: a root CA per
 * call and leaves with SPIFFE URI SANs, as PEM for node:tls.
 */
import { createCsr, createRootCA, exportPrivateKeyPem, generateKeyPair, issueCertificate, verifyCsr, type SigningCA } from '../../core/identity/index.js';
import type { TlsIdentity } from '../../core/hbone/index.js';

export interface TestCa {
  ca: SigningCA;
  rootPem: string;
  /** Key + leaf for `spiffeId`, trusting this CA's root (or `trust`). */
  issue(spiffeId: string, options?: { ttlSeconds?: number; trust?: string | string[] }): Promise<TlsIdentity>;
}

export async function makeTestCa(trustDomain = 'cluster.local'): Promise<TestCa> {
  const ca = await createRootCA({ trustDomain });
  return { ca, rootPem: ca.root.pem, issue: (spiffeId, options) => issueLeaf(ca, spiffeId, options) };
}

/** Key + leaf for `spiffeId` from any signing CA (a mesh's own, in identity tests), trusting its root (or `trust`). */
export async function issueLeaf(ca: SigningCA, spiffeId: string, options: { ttlSeconds?: number; trust?: string | string[] } = {}): Promise<TlsIdentity> {
  const keys = await generateKeyPair();
  const csr = await createCsr(spiffeId, keys);
  const verified = await verifyCsr(csr, { trustDomain: ca.trustDomain });
  const issued = await issueCertificate(ca, verified, { ttlSeconds: options.ttlSeconds ?? 3600 });
  return { key: await exportPrivateKeyPem(keys.privateKey), cert: issued.chainPem, ca: options.trust ?? ca.root.pem };
}

export const workload = (ns: string, sa: string, td = 'cluster.local'): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;
