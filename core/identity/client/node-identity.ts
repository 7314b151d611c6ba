/**
 * A node's own identity: its key (generated here, 0600 on disk, never sent
 * anywhere), its node certificate and the trust bundle it got with it.
 * Files in the node's state directory (default /var/lib/ambit):
 * node-key.pem, node-cert.pem (leaf then chain), bundle.json and bundle.pem.
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bundlePem, parseBundle, serializeBundle, type TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { readTextFile, writeFileSecure } from '../files.js';
import { certInfo } from '../info.js';
import { parseSpiffeId, type NodeSpiffeId } from '../spiffe.js';
import { signedPayload, type NodeAuth, type RequestKind } from '../signer/protocol.js';

import { DEFAULT_NODE_DIR } from './node-dir.js';

export { DEFAULT_NODE_DIR };

export interface NodeIdentity {
  readonly node: string;
  readonly spiffeId: NodeSpiffeId;
  readonly keyPem: string;
  /** Node certificate followed by the signer's chain. */
  readonly chainPem: string;
  readonly bundle: TrustBundle;
  /** Sequence of the signed bundle record `bundle` came from (trust/signed-bundle.ts); 0 when unknown. */
  readonly bundleSequence?: number;
  readonly serial: string;
  readonly notAfter: Date;
  readonly renewAt: Date;
}

export function nodeFiles(dir: string): { key: string; cert: string; bundle: string; bundlePem: string } {
  return { key: join(dir, 'node-key.pem'), cert: join(dir, 'node-cert.pem'), bundle: join(dir, 'bundle.json'), bundlePem: join(dir, 'bundle.pem') };
}

/** Builds the identity from its parts; the certificate says which node it is. */
export function nodeIdentity(keyPem: string, chainPem: string, bundle: TrustBundle): NodeIdentity {
  const info = certInfo(chainPem);
  const id = info.spiffeId ? parseSpiffeId(info.spiffeId) : undefined;
  if (id?.kind !== 'node')
    throw new IdentityError('EIDENTITY_NOT_NODE', `the node certificate names ${info.spiffeId ?? 'no SPIFFE ID'}, not spiffe://<td>/ambit/node/<name>`);
  return { node: id.node, spiffeId: id, keyPem, chainPem, bundle, serial: info.serial, notAfter: info.notAfter, renewAt: info.renewAt };
}

/** Reads a joined node's identity; EIDENTITY_NOT_JOINED when the node never joined. */
export async function loadNodeIdentity(dir: string = DEFAULT_NODE_DIR): Promise<NodeIdentity> {
  const files = nodeFiles(dir);
  try {
    const [keyPem, chainPem, bundleJson] = await Promise.all([
      readTextFile(files.key, 'node key'),
      readTextFile(files.cert, 'node certificate'),
      readTextFile(files.bundle, 'trust bundle'),
    ]);
    return { ...nodeIdentity(keyPem, chainPem, parseBundle(bundleJson)), bundleSequence: bundleSequenceOf(bundleJson) };
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'EIDENTITY_FILE_NOT_FOUND') {
      throw new IdentityError(
        'EIDENTITY_NOT_JOINED',
        `this node has not joined the mesh (${err.message}); run \`ambit node join --token T --dir ${dir}\``,
        { dir },
        { cause: err },
      );
    }
    throw err;
  }
}

/** Writes the identity: key 0600 (only when `withKey`: renewals keep the key), the rest 0644. */
export async function saveNodeIdentity(dir: string, identity: NodeIdentity, options: { withKey: boolean; overwrite?: boolean }): Promise<void> {
  const files = nodeFiles(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const overwrite = options.overwrite ?? true;
  if (options.withKey) await writeFileSecure(files.key, identity.keyPem, { mode: 0o600, overwrite });
  await writeFileSecure(files.cert, identity.chainPem, { mode: 0o644, overwrite: true });
  await saveBundle(dir, identity.bundle, identity.bundleSequence ?? 0);
}

/**
 * The bundle this node trusts, with the sequence of the signed record it came
 * from: the pin a restarted daemon checks the store's next bundle against, so
 * neither a forged nor a replayed older bundle gets in across a restart.
 */
export async function saveBundle(dir: string, bundle: TrustBundle, sequence: number): Promise<void> {
  const files = nodeFiles(dir);
  const text = JSON.stringify({ ...(JSON.parse(serializeBundle(bundle)) as object), sequence });
  await writeFileSecure(files.bundle, text, { mode: 0o644, overwrite: true });
  await writeFileSecure(files.bundlePem, bundlePem(bundle), { mode: 0o644, overwrite: true });
}

function bundleSequenceOf(text: string): number {
  const seq = (JSON.parse(text) as { sequence?: unknown }).sequence;
  return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : 0;
}

const keyObjects = new WeakMap<NodeIdentity, KeyObject>();

/** Signs a request with the node key: the signer's proof that this node asks. */
export function nodeAuth(identity: NodeIdentity, req: { kind: RequestKind; id: string; csr: string }, now = Date.now()): NodeAuth {
  let key = keyObjects.get(identity);
  if (!key) {
    key = createPrivateKey(identity.keyPem);
    keyObjects.set(identity, key);
  }
  const partial = { timestamp: now, nonce: randomBytes(16).toString('base64url') };
  const signature = sign('sha256', signedPayload(req, partial), key).toString('base64');
  return { chainPem: identity.chainPem, ...partial, signature };
}
