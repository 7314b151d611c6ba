/**
 * Feeds a running waypoint from the store: every snapshot or change from the
 * Watcher, and the node list (polled, as the daemon does, because nodes move
 * with heartbeats rather than revisions), becomes a new MeshState for
 * WaypointServer.update. Redis outages leave the last state serving.
 */
import type { Logger } from '../core/logging.js';
import type { Store, Watcher } from '../core/store/index.js';
import type { NodeRecord, Snapshot } from '../core/store/types.js';
import { MeshState, type StateOptions } from '../daemon/state.js';

export interface MeshSourceOptions {
  watcher: Watcher;
  store: Store;
  state: StateOptions;
  onState: (state: MeshState) => void;
  log: Logger;
  nodePollMs?: number;
}

export async function watchMesh(o: MeshSourceOptions): Promise<{ first: MeshState; stop: () => void }> {
  let nodes: NodeRecord[] = await o.store.listNodes().catch(() => []);
  const build = (s: Snapshot) => new MeshState(s, nodes, o.state);
  const first = build(await o.watcher.ready());
  const rebuild = (): void => {
    const s = o.watcher.current();
    if (s) o.onState(build(s));
  };
  o.watcher.on('snapshot', rebuild);
  o.watcher.on('change', rebuild);
  const poll = setInterval(() => {
    o.store.listNodes().then((n) => {
      const key = (l: NodeRecord[]) => JSON.stringify(l.map((x) => [x.name, x.address, x.hbonePort]));
      if (key(n) === key(nodes)) return;
      nodes = n;
      rebuild();
    }, (err: unknown) => o.log.warn({ err: (err as Error).message }, 'node list refresh failed; keeping the last one'));
  }, o.nodePollMs ?? 5000);
  poll.unref();
  return { first, stop: () => clearInterval(poll) };
}
