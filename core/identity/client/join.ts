/**
 * `ambit node join` and ambitd's first start: generate the node key here,
 * trade a join token and a CSR for a node certificate, and keep both in the
 * node's state directory.
 */
import { access } from 'node:fs/promises';
import type { Store } from '../../store/index.js';
import { IdentityError } from '../errors.js';
import { requireBundle } from '../store/bundle.js';
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
  const { bundle } = await requireBundle(options.store);
  const client = new SignerClient(options.store, options.nodeName, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  try {
    const identity = await requestJoin(client, bundle.trustDomain, options.nodeName, options.token);
    // Written only now: a refused join leaves nothing behind, so it can simply be retried.
    await saveNodeIdentity(dir, identity, { withKey: true, overwrite: true });
    return identity;
  } finally {
    client.close();
  }
}
