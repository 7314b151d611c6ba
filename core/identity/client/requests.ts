/**
 * The three things a node asks the signer for. Each makes a fresh key here and
 * sends only its CSR.
 */
import { parseBundle, type TrustBundle } from '../bundle.js';
import { createCsr } from '../csr.js';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../keys.js';
import { nodeId, type SpiffeId } from '../spiffe.js';
import { nodeAuth, nodeIdentity, type NodeIdentity } from './node-identity.js';
import type { SignerClient } from './signer-client.js';

/** A certificate with its key, as TLS needs it. */
export interface KeyedCert {
  readonly spiffeId: string;
  readonly keyPem: string;
  /** Leaf then intermediates. */
  readonly chainPem: string;
  readonly bundle: TrustBundle;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly renewAt: Date;
}

async function keyAndCsr(id: SpiffeId | string): Promise<{ keyPem: string; csr: string }> {
  const keys = await generateKeyPair();
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), csr: await createCsr(id, keys) };
}

/** A new node's first certificate, paid for with a join token. */
export async function requestJoin(client: SignerClient, trustDomain: string, node: string, token: string): Promise<NodeIdentity> {
  const { keyPem, csr } = await keyAndCsr(nodeId(trustDomain, node));
  const out = await client.request(() => ({ kind: 'join', csr, token }));
  return nodeIdentity(keyPem, out.chainPem, parseBundle(out.bundle));
}

/** The node's next certificate for the same key, authenticated by the current one. */
export async function requestNodeRenewal(client: SignerClient, identity: NodeIdentity): Promise<NodeIdentity> {
  const { csr } = await keyAndCsrFor(identity);
  const out = await client.request((id) => ({ kind: 'node-renew', csr, auth: nodeAuth(identity, { kind: 'node-renew', id, csr }) }));
  return nodeIdentity(identity.keyPem, out.chainPem, parseBundle(out.bundle));
}

async function keyAndCsrFor(identity: NodeIdentity): Promise<{ csr: string }> {
  // Renewals keep the node key: the one on disk stays the one in the certificate.
  return { csr: await createCsr(identity.spiffeId, await importPrivateKeyPem(identity.keyPem)) };
}

/** A workload certificate for an identity enrolled on this node, with a fresh key. */
export async function requestWorkloadCert(client: SignerClient, identity: NodeIdentity, spiffeId: string): Promise<KeyedCert> {
  const { keyPem, csr } = await keyAndCsr(spiffeId);
  const out = await client.request((id) => ({ kind: 'workload', csr, auth: nodeAuth(identity, { kind: 'workload', id, csr }) }));
  return {
    spiffeId,
    keyPem,
    chainPem: out.chainPem,
    bundle: parseBundle(out.bundle),
    serial: out.serial,
    notBefore: new Date(out.notBefore),
    notAfter: new Date(out.notAfter),
    renewAt: new Date(out.renewAt),
  };
}
