/**
 * `ambit node join` and ambitd's first start: generate the node key here,
 * trade a join token and a CSR for a node certificate, and keep both in the
 * node's state directory.
 */
import { access } from 'node:fs/promises';
import type { Store } from '../../store/index.js';
import { IdentityError } from '../errors.js';
import { requireBundle } from '../store/bundle.js';
import { verifyPeerChain } from '../verify.js';
import { DEFAULT_NODE_DIR, nodeFiles, saveNodeIdentity, type NodeIdentity } from './node-identity.js';
import { requestJoin } from './requests.js';
import { joinPin, trustPinnedBundle, type RootPin } from './root-pin.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, SignerClient } from './signer-client.js';

export interface JoinOptions {
  store: Store;
  token: string;
  nodeName: string;
  /** State directory (default /var/lib/ambit). */
  dir?: string;
  /** Replace an identity already in dir. */
  force?: boolean;
  timeoutMs?: number;
  /**
   * The mesh root given out of band (`--root-fingerprint`, identity.rootFingerprint; `ambit ca show`
   * prints it): must agree with the one the token carries, and pins the join when the token has none.
   */
  rootPin?: RootPin | undefined;
}

export async function joinNode(options: JoinOptions): Promise<NodeIdentity> {
  const dir = options.dir ?? DEFAULT_NODE_DIR;
  const keyFile = nodeFiles(dir).key;
  const present = await access(keyFile).then(
    () => true,
    () => false,
  );
  if (present && !options.force) {
    throw new IdentityError('EIDENTITY_FILE_EXISTS', `${keyFile} exists: this node has already joined; pass --force to join again with a new key`, {
      path: keyFile,
    });
  }
  // Before the store is asked anything: a token and a flag that disagree need no store to be refused.
  const pin = joinPin(options.token, options.rootPin);
  // The trust domain comes from the mesh; asking for anything else would be refused anyway.
  const published = await requireBundle(options.store);
  // Not trust on first use: the bundle is adopted only if it is signed by the root the operator named.
  const trusted = trustPinnedBundle(pin, published);
  const { bundle } = trusted;
  const client = new SignerClient(options.store, options.nodeName, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  try {
    const answered = await requestJoin(client, bundle.trustDomain, options.nodeName, options.token);
    // The node pins the signed bundle, not the one in the signer's answer (both came through the store).
    verifyPeerChain(answered.chainPem, bundle);
    const identity = { ...answered, bundle, bundleSequence: trusted.sequence };
    // Written only now: a refused join leaves nothing behind, so it can simply be retried.
    await saveNodeIdentity(dir, identity, { withKey: true, overwrite: true });
    return identity;
  } finally {
    client.close();
  }
}
