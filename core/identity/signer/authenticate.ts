/**
 * Who is asking: checks a node-authenticated request (node-renew, workload)
 * and returns the node it came from. Every failure is a refusal with its own
 * code, so an operator can tell a forged request from a stale one.
 */
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import type { Store } from '../../store/index.js';
import type { EndpointRecord } from '../../store/types.js';
import type { TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import type { NodeSpiffeId } from '../spiffe.js';
import { verifyPeerChain, type VerifiedPeer } from '../verify.js';
import { splitPemCerts } from '../x509.js';
import { identityKeys } from '../store/keys.js';
import { signedPayload, type SignRequest } from './protocol.js';

/** How far a request's timestamp may be from the signer's clock. */
export const MAX_REQUEST_SKEW_MS = 5 * 60_000;

// A node sends the same chain with every request until it renews; checking it
// costs ~3 ms of ASN.1 parsing and signature checks, so the result is kept per
// bundle (a new bundle object after any root change starts a new cache).
const MAX_CACHED_CHAINS = 4096;
const verifiedChains = new WeakMap<TrustBundle, Map<string, VerifiedPeer>>();

function verifyNodeChain(chainPem: string, bundle: TrustBundle, now: number): VerifiedPeer {
  let cache = verifiedChains.get(bundle);
  const hit = cache?.get(chainPem);
  // Leaves never outlive their CA (issuance clamps them), so the leaf's notAfter bounds the whole path.
  if (hit && hit.notAfter.getTime() > now) return hit;
  const peer = verifyPeerChain(chainPem, bundle, { now: new Date(now) });
  if (!cache || cache.size >= MAX_CACHED_CHAINS) verifiedChains.set(bundle, (cache = new Map<string, VerifiedPeer>()));
  cache.set(chainPem, peer);
  return peer;
}

export interface AuthenticatedNode {
  readonly spiffeId: NodeSpiffeId;
  /** Serial of the node certificate that signed the request (the signer refuses a revoked one). */
  readonly serial: string;
}

export async function authenticateNode(store: Store, req: SignRequest, bundle: TrustBundle, now = Date.now()): Promise<AuthenticatedNode> {
  const auth = req.auth;
  if (!auth) throw new IdentityError('EIDENTITY_BAD_REQUEST', `a ${req.kind} request must be signed by the node`);
  // Chain first: it is what makes the key in it worth anything.
  const peer = verifyNodeChain(auth.chainPem, bundle, now);
  if (peer.spiffeId.kind !== 'node') {
    throw new IdentityError('EIDENTITY_NOT_NODE', `request refused: ${peer.spiffeId.uri} is not a node identity; only node daemons may request certificates`, {
      spiffeId: peer.spiffeId.uri,
    });
  }
  const leaf = new X509Certificate(splitPemCerts(auth.chainPem)[0]!);
  let valid: boolean;
  try {
    valid = verifySignature('sha256', signedPayload(req, auth), leaf.publicKey, Buffer.from(auth.signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) {
    throw new IdentityError('EIDENTITY_BAD_SIGNATURE', `request refused: the signature does not verify with the key of ${peer.spiffeId.uri}`, {
      node: peer.spiffeId.node,
    });
  }
  if (!Number.isFinite(auth.timestamp) || Math.abs(now - auth.timestamp) > MAX_REQUEST_SKEW_MS) {
    throw new IdentityError(
      'EIDENTITY_STALE_REQUEST',
      `request refused: signed at ${new Date(auth.timestamp || 0).toISOString()}, more than ${MAX_REQUEST_SKEW_MS / 60_000} min from the signer's clock; check NTP on node ${peer.spiffeId.node}`,
      { node: peer.spiffeId.node },
    );
  }
  // Remembered twice as long as a timestamp stays acceptable, so no replay outlives its nonce.
  const fresh = await store.redis.set(identityKeys(store).nonce(auth.nonce), peer.spiffeId.node, 'PX', 2 * MAX_REQUEST_SKEW_MS, 'NX');
  if (fresh !== 'OK') {
    throw new IdentityError('EIDENTITY_REPLAY', `request refused: nonce ${auth.nonce} was already used (a replayed request)`, { node: peer.spiffeId.node });
  }
  return { spiffeId: peer.spiffeId, serial: peer.serial };
}

/**
 * A node may hold a workload identity only while a service with that
 * namespace and service account is enrolled on it: this is what stops one
 * node from minting another node's identities.
 */
export async function checkEnrolled(store: Store, node: string, namespace: string, serviceAccount: string, uri: string): Promise<EndpointRecord[]> {
  const endpoints = (await store.listEndpoints({ node, namespace })).filter((e) => e.serviceAccount === serviceAccount);
  if (endpoints.length > 0) return endpoints;
  throw new IdentityError(
    'EIDENTITY_NOT_ENROLLED',
    `request refused: node ${node} asked for ${uri}, but no service with namespace ${namespace} and service account ${serviceAccount} is enrolled on node ${node}`,
    { node, spiffeId: uri },
  );
}
