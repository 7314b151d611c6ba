/**
 * The node list as proxies keep it. Nodes move with heartbeats, not with the
 * config revision, so ambitd and ambit-waypoint both re-read the list and
 * rebuild their mesh state only when something a tunnel depends on (a node's
 * name, address or HBONE port) changed. A failed read keeps the last list.
 */
import type { NodeRecord } from '../store/types.js';

export interface NodeSource {
  listNodes(): Promise<NodeRecord[]>;
}

export class NodeList {
  #nodes: readonly NodeRecord[] = [];
  readonly #source: NodeSource;

  constructor(source: NodeSource) {
    this.#source = source;
  }

  get current(): readonly NodeRecord[] {
    return this.#nodes;
  }

  /** Re-reads the list; true when a node's name, address or port changed. Rejects (keeping the last list) when the store does. */
  async refresh(): Promise<boolean> {
    const nodes = await this.#source.listNodes();
    const changed = tunnelShape(nodes) !== tunnelShape(this.#nodes);
    this.#nodes = nodes;
    return changed;
  }
}

function tunnelShape(nodes: readonly NodeRecord[]): string {
  return JSON.stringify(nodes.map((n) => [n.name, n.address, n.hbonePort]));
}
