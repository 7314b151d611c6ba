/**
 * Feeds a running waypoint from the store: every snapshot or change from the
 * Watcher, and the node list (polled, as the daemon does, because nodes move
 * with heartbeats rather than revisions), becomes a new MeshState for
 * WaypointServer.update. Redis outages leave the last state serving. A
 * snapshot counts only if an operator signed its security content;
 * the accepted manifest's revocation list goes to `onRevocations` before the
 * state is built (it applies even if the rest of the snapshot fails), and its
 * sequence to the waypoint's state dir, so a restarted waypoint refuses an
 * older, replayed manifest as ambitd does.
 */
import type { Logger } from '../core/logging.js';
import { MeshState, NodeList, type StateOptions } from '../core/mesh/index.js';
import type { Store, Watcher } from '../core/store/index.js';
import type { Snapshot } from '../core/store/types.js';
import type { TrustBundle } from '../core/identity/bundle.js';
import { IdentityError } from '../core/identity/errors.js';
import { checkManifest } from '../core/identity/manifest/check.js';
import type { SequenceFile } from '../core/identity/manifest/sequence-file.js';
import { EMPTY_REVOCATIONS, type RevocationList } from '../core/identity/revocation/list.js';
import { countRefusal } from '../core/identity/trust/refusals.js';

export interface MeshSourceOptions {
  watcher: Watcher;
  store: Store;
  state: StateOptions;
  onState: (state: MeshState) => void;
  log: Logger;
  nodePollMs?: number;
  /**
   * A snapshot whose policy or enrollments an operator did not sign, or whose manifest is older than
   * one accepted before (in this process or, through `sequence`, an earlier one), is refused.
   */
  trust: SignedMeshOptions;
}

export interface SignedMeshOptions {
  /** The roots operator signatures are checked against (the bundle the daemon handed this waypoint). */
  bundle: () => TrustBundle;
  /** The highest manifest sequence accepted, kept in the waypoint's state dir. */
  sequence: SequenceFile;
  /** The revocation list of every accepted manifest (empty when the store has none yet). */
  onRevocations: (list: RevocationList) => void;
}

export async function watchMesh(o: MeshSourceOptions): Promise<{ first: MeshState; stop: () => void }> {
  const nodes = new NodeList(o.store);
  await nodes.refresh().catch(() => false);
  const build = (s: Snapshot): MeshState => {
    const { sequence, bundle, onRevocations } = o.trust;
    const lastSequence = sequence.value;
    const verdict = checkManifest({ record: s.manifest, bundle: bundle(), lastSequence, resources: s.resources.values(), endpoints: s.endpoints.values() });
    if (!verdict.accept) {
      countRefusal('manifest', verdict.reason);
      throw new IdentityError('EIDENTITY_MANIFEST_INVALID', `config snapshot refused (${verdict.reason}): ${verdict.detail}`, {
        reason: verdict.reason,
        revision: s.revision,
        lastSequence,
      });
    }
    sequence.raise(verdict.sequence);
    onRevocations(verdict.manifest?.revoked ?? EMPTY_REVOCATIONS);
    const state = new MeshState(s, nodes.current, o.state);
    for (const r of state.rejected)
      o.log.warn({ resource: r.key, reason: r.reason, revision: s.revision }, 'stored resource fails validation; left out of the mesh state');
    return state;
  };
  const first = build(await o.watcher.ready());
  const rebuild = (): void => {
    const s = o.watcher.current();
    if (!s) return;
    try {
      o.onState(build(s));
    } catch (err) {
      // A snapshot that cannot become a state (a stored policy fails validation) must not replace the last good one.
      o.log.error({ err, revision: s.revision }, 'config snapshot rejected; keeping the previous one');
    }
  };
  o.watcher.on('snapshot', rebuild);
  o.watcher.on('change', rebuild);
  const poll = setInterval(() => {
    nodes.refresh().then(
      (changed) => changed && rebuild(),
      (err: unknown) => o.log.warn({ err: (err as Error).message }, 'node list refresh failed; keeping the last one'),
    );
  }, o.nodePollMs ?? 5000);
  poll.unref();
  return { first, stop: () => clearInterval(poll) };
}
