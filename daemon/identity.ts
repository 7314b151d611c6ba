/**
 * The daemon's certificates: the node identity (from /var/lib/ambit, joined
 * with a token on first start) and one workload certificate per identity
 * enrolled on this node, kept fresh by the CertManager. TLS identity objects
 * are cached until rotation, because the HBONE client builds one OpenSSL
 * context per object.
 */
import type { Logger } from 'pino';
import { AmbitError } from '../core/errors.js';
import type { TlsIdentity } from '../core/hbone/index.js';
import { bundlePem } from '../core/identity/index.js';
import { CertManager, joinNode, loadNodeIdentity, type NodeIdentity } from '../core/identity/client/index.js';
import { IdentityError } from '../core/identity/errors.js';
import type { Store } from '../core/store/index.js';
import type { DaemonIdentity } from './daemon.js';

export interface IdentityOptions {
  store: Store;
  dir: string;
  nodeName: string;
  /** A join token, used only when the node has not joined yet. */
  token?: string | undefined;
  /** identity.rootFingerprint: the root that join must find the store's trust bundle signed by (as well as the token's). */
  rootFingerprint?: string | undefined;
  log: Logger;
  /** How long an outbound connection waits for a certificate still being issued. */
  pendingTimeoutMs?: number;
}

export async function startDaemonIdentity(options: IdentityOptions): Promise<DaemonIdentity> {
  const { store, dir, nodeName, log } = options;
  const node = await loadOrJoin(options);
  if (node.node !== nodeName) {
    throw new AmbitError(
      'EIDENTITY_NODE_NAME',
      `the node certificate in ${dir} is for node "${node.node}", but this daemon is configured as "${nodeName}"; set node.name to "${node.node}" or join again with --force`,
      { dir },
    );
  }
  const certs = new CertManager({ store, node, dir });
  certs.on('failed', (id, err) => log.warn({ spiffeId: id, err: err.message }, 'certificate renewal failed; retrying'));
  await certs.start();
  const cache = new Map<string, TlsIdentity>();
  let nodeTls: TlsIdentity | undefined;
  const bundle = () => bundlePem(certs.trustBundle());
  certs.on('updated', (id) => cache.delete(id));
  certs.on('node', () => (nodeTls = undefined));
  certs.on('bundle', () => {
    nodeTls = undefined;
    cache.clear();
  });

  const waitFor = (id: string): Promise<TlsIdentity> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        certs.off('updated', onUpdate);
        reject(new AmbitError('EIDENTITY_PENDING', `no certificate for ${id} yet: is the signer (ambit ca serve or ambitd --ca) running?`, { spiffeId: id }));
      }, options.pendingTimeoutMs ?? 10_000);
      const onUpdate = (updated: string) => {
        if (updated !== id) return;
        clearTimeout(timer);
        certs.off('updated', onUpdate);
        resolve(workload(id));
      };
      certs.on('updated', onUpdate);
    });

  const workload = (id: string): TlsIdentity | Promise<TlsIdentity> => {
    const cached = cache.get(id);
    if (cached) return cached;
    const material = certs.material(id);
    if (!material) return waitFor(id);
    const tls = { key: material.keyPem, cert: material.chainPem, ca: material.bundlePem };
    cache.set(id, tls);
    return tls;
  };

  return {
    node: () => {
      const current = certs.nodeIdentity();
      return (nodeTls ??= { key: current.keyPem, cert: current.chainPem, ca: bundle() });
    },
    workload,
    want: (ids) => void certs.setIdentities(ids).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not request workload certificates')),
    onNodeRotated: (listener) => {
      certs.on('node', () => listener());
      certs.on('bundle', () => listener());
    },
    onWorkloadRotated: (listener) => certs.on('updated', (id) => listener(id)),
    describe: () => certs.list(),
    trustBundle: () => certs.trustBundle(),
    stop: () => certs.stop(),
  };
}

async function loadOrJoin(options: IdentityOptions): Promise<NodeIdentity> {
  try {
    return await loadNodeIdentity(options.dir);
  } catch (err) {
    if (!(err instanceof IdentityError) || err.code !== 'EIDENTITY_NOT_JOINED' || !options.token) throw err;
    options.log.info({ node: options.nodeName, dir: options.dir }, 'joining the mesh with the given token');
    const rootPin = options.rootFingerprint ? { fingerprint: options.rootFingerprint, from: 'identity.rootFingerprint' } : undefined;
    return joinNode({ store: options.store, token: options.token, nodeName: options.nodeName, dir: options.dir, rootPin });
  }
}
