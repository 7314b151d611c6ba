/**
 * A waypoint fed from the store, wired once for the binary (main.ts) and the
 * integration tests alike: the last accepted manifest sequence read from its
 * state dir, the mesh source checking every snapshot against it and the
 * operator roots, and the server built on the first accepted state with that
 * manifest's revocation list in force before it listens (later lists follow
 * as their manifests are accepted, cutting open sessions with peers they revoke).
 */
import type { TlsIdentity } from '../core/hbone/index.js';
import { createBundle } from '../core/identity/bundle.js';
import { SequenceFile } from '../core/identity/manifest/sequence-file.js';
import { EMPTY_REVOCATIONS } from '../core/identity/revocation/list.js';
import type { Logger } from '../core/logging.js';
import type { Store, Watcher } from '../core/store/index.js';
import { watchMesh } from './mesh-source.js';
import { WaypointServer, type WaypointServerOptions } from './server.js';

export interface FromStoreOptions {
  store: Store;
  watcher: Watcher;
  /** The current certificate, key and roots, and the SPIFFE ID in it (re-read on SIGHUP, so a getter). */
  identity: () => { tls: TlsIdentity; principal: string };
  services: readonly string[];
  nodeName: string;
  trustDomain: string;
  domain: string;
  /** Where the last accepted manifest sequence is kept (created 0700 when missing). */
  stateDir: string;
  log: Logger;
  nodePollMs?: number;
  server?: Pick<WaypointServerOptions, 'protocolDetectionTimeoutMs' | 'accessLog' | 'retryBackOffMs' | 'rateLimitStore' | 'tracing'>;
}

export interface StoreFedWaypoint {
  server: WaypointServer;
  sequence: SequenceFile;
  /** Stops following the store (the caller closes the server, the watcher and the store). */
  stop: () => void;
}

/** Refuses (EIDENTITY_MANIFEST_INVALID) when the store's first snapshot is not what an operator signed, or older than one accepted before. */
export async function startFromStore(o: FromStoreOptions): Promise<StoreFedWaypoint> {
  const sequence = await SequenceFile.open(o.stateDir, o.log.child({ component: 'signed-config' }));
  let server: WaypointServer | undefined;
  // The first snapshot is checked before the server exists: its list waits here.
  let revoked = EMPTY_REVOCATIONS;
  const mesh = await watchMesh({
    watcher: o.watcher,
    store: o.store,
    log: o.log,
    state: { nodeName: o.nodeName, trustDomain: o.trustDomain, domain: o.domain },
    onState: (state) => server?.update(state),
    ...(o.nodePollMs !== undefined ? { nodePollMs: o.nodePollMs } : {}),
    trust: {
      bundle: () => createBundle(o.trustDomain, [String(o.identity().tls.ca)]),
      sequence,
      onRevocations: (list) => {
        revoked = list;
        server?.applyRevocations(list);
      },
    },
  });
  const first = o.identity();
  server = new WaypointServer({
    ...o.server,
    identity: first.tls,
    principal: first.principal,
    getSecureContext: () => o.identity().tls,
    services: o.services,
    mesh: mesh.first,
    domain: o.domain,
    trustDomain: o.trustDomain,
    log: o.log,
  });
  server.applyRevocations(revoked);
  return { server, sequence, stop: mesh.stop };
}
