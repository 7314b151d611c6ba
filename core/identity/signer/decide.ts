/**
 * The signer's decision for one request: who asks, for what, and whether they
 * may have it. Returns the certificate to issue or throws an IdentityError
 * whose code and message go back to the requester verbatim.
 */
import type { Store } from '../../store/index.js';
import type { TrustBundle } from '../bundle.js';
import type { SigningCA } from '../ca.js';
import { verifyCsr } from '../csr.js';
import { IdentityError } from '../errors.js';
import { issueCertificate, type IssuedCertificate } from '../sign.js';
import { nodeId } from '../spiffe.js';
import { checkJoined, checkNotJoined, recordJoined } from '../store/joined.js';
import { consumeJoinToken } from '../store/tokens.js';
import { authenticateNode, checkEnrolled } from './authenticate.js';
import type { SignRequest } from './protocol.js';
import { checkNotRevoked } from './revoked-requests.js';
import { checkSignedEnrollment, type SignedManifests } from './signed-enrollment.js';

export interface DecideContext {
  store: Store;
  ca: SigningCA;
  bundle: TrustBundle;
  nodeTtlSeconds: number;
  workloadTtlSeconds: number;
  /** The manifests this signer accepted: an enrollment counts only if one of them lists it. */
  manifests: SignedManifests;
}

export interface Decision {
  /** The node the certificate belongs to (for workloads: the node that asked). */
  node: string;
  issued: IssuedCertificate;
}

export async function decide(ctx: DecideContext, req: SignRequest): Promise<Decision> {
  const trustDomain = ctx.ca.trustDomain;
  if (req.kind === 'join') {
    // The CSR is checked before the token is spent, so a bad CSR does not burn it.
    const csr = await verifyCsr(req.csr, { trustDomain });
    if (csr.spiffeId.kind !== 'node') {
      throw new IdentityError(
        'EIDENTITY_NOT_NODE',
        `join refused: the CSR asks for ${csr.spiffeId.uri}; a join asks for spiffe://${trustDomain}/ambit/node/<name>`,
        { spiffeId: csr.spiffeId.uri },
      );
    }
    checkClaimedNode(req, csr.spiffeId.node);
    // Checked before the token is spent too: a second join for a joined name is refused
    // whatever token it brings, so a stolen or re-minted token cannot clone a node.
    await checkNotJoined(ctx.store, csr.spiffeId.node);
    // A removed name stays out until an operator signs it back in (a new token lifts it).
    await checkNotRevoked(ctx.store, ctx.manifests, ctx.bundle, { node: csr.spiffeId.node });
    await consumeJoinToken(ctx.store, req.token ?? '', csr.spiffeId.node, ctx.bundle);
    const issued = await issueCertificate(ctx.ca, csr, { ttlSeconds: ctx.nodeTtlSeconds });
    await recordJoined(ctx.store, csr.spiffeId.node, issued.serial);
    return { node: csr.spiffeId.node, issued };
  }
  const { spiffeId: node, serial } = await authenticateNode(ctx.store, req, ctx.bundle);
  checkClaimedNode(req, node.node);
  // A removed node's certificates still verify until they expire; renewing them must not. The join record
  // says so unless the store was tampered with; the signed revocation list says so even then.
  await checkJoined(ctx.store, node.node);
  await checkNotRevoked(ctx.store, ctx.manifests, ctx.bundle, { node: node.node, serial });
  if (req.kind === 'node-renew') {
    const csr = await verifyCsr(req.csr, { trustDomain, expected: nodeId(trustDomain, node.node) });
    return { node: node.node, issued: await issueCertificate(ctx.ca, csr, { ttlSeconds: ctx.nodeTtlSeconds }) };
  }
  const csr = await verifyCsr(req.csr, { trustDomain });
  const id = csr.spiffeId;
  if (id.kind !== 'workload') {
    throw new IdentityError(
      'EIDENTITY_CSR_IDENTITY_MISMATCH',
      `request refused: ${id.uri} is not a workload identity (spiffe://${trustDomain}/ns/<ns>/sa/<sa>)`,
      { spiffeId: id.uri },
    );
  }
  const endpoints = await checkEnrolled(ctx.store, node.node, id.namespace, id.serviceAccount, id.uri);
  await checkSignedEnrollment(ctx.store, ctx.manifests, ctx.bundle, endpoints, id.uri);
  return { node: node.node, issued: await issueCertificate(ctx.ca, csr, { ttlSeconds: ctx.workloadTtlSeconds }) };
}

/** The answer goes under the claimed name, so a request naming one node and proving another is refused. */
function checkClaimedNode(req: SignRequest, proven: string): void {
  if (req.node === proven) return;
  throw new IdentityError('EIDENTITY_BAD_REQUEST', `request refused: it claims to come from node ${req.node} but is for node ${proven}`, {
    node: proven,
    claimed: req.node,
  });
}
