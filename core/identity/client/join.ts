/**
 * `ambit node join` and ambitd's first start: generate the node key here,
 * trade a join token and a CSR for a node certificate, and keep both in the
 * node's state directory.
 */
import { access } from 'node:fs/promises';
import type { Store } from '../../store/index.js';
import { rootFingerprint } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { requireBundle } from '../store/bundle.js';
import { checkBundleUpdate } from '../trust/signed-bundle.js';
import { countRefusal } from '../trust/refusals.js';
import { verifyPeerChain } from '../verify.js';
import { DEFAULT_NODE_DIR, nodeFiles, saveNodeIdentity, type NodeIdentity } from './node-identity.js';
import { requestJoin } from './requests.js';
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
  /** SHA-256 fingerprint of the mesh root the operator handed out (`ambit ca bundle`): pins first use. */
  rootFingerprint?: string;
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
  // The trust domain comes from the mesh; asking for anything else would be refused anyway.
  const published = await requireBundle(options.store);
  const { bundle } = published;
  // Trust on first use: the bundle must at least be signed by one of its own roots (what `ca init` writes),
  // and, when the operator passed one, hold the root they expect.
  const verdict = checkBundleUpdate({ bundle, sequence: 0 }, published.signature);
  if (!verdict.accept) {
    countRefusal('bundle', verdict.reason);
    throw new IdentityError('EIDENTITY_BUNDLE_UNSIGNED', `join refused: the store's trust bundle is not signed by its own root (${verdict.detail})`);
  }
  if (options.rootFingerprint && !verdict.trusted.bundle.roots.some((r) => rootFingerprint(r) === options.rootFingerprint!.toUpperCase())) {
    throw new IdentityError('EIDENTITY_UNTRUSTED', `join refused: the store's trust bundle does not hold root ${options.rootFingerprint}`);
  }
  const client = new SignerClient(options.store, options.nodeName, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  try {
    const answered = await requestJoin(client, bundle.trustDomain, options.nodeName, options.token);
    // The node pins the signed bundle, not the one in the signer's answer (both came through the store).
    verifyPeerChain(answered.chainPem, verdict.trusted.bundle);
    const identity = { ...answered, bundle: verdict.trusted.bundle, bundleSequence: verdict.trusted.sequence };
    // Written only now: a refused join leaves nothing behind, so it can simply be retried.
    await saveNodeIdentity(dir, identity, { withKey: true, overwrite: true });
    return identity;
  } finally {
    client.close();
  }
}
