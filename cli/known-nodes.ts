/**
 * The nodes the store knows: those that joined (a node identity) and those
 * whose ambitd sends heartbeats (a mesh without a CA has only these). An
 * enrollment on any other name is captured by no daemon, so `ambit enroll`
 * refuses it unless told the node is coming (`--allow-unknown-node`).
 */
import { UsageError } from '../core/errors.js';
import { didYouMean } from '../core/config/suggest.js';
import type { Store } from '../core/store/index.js';

export async function knownNodeNames(store: Store): Promise<string[]> {
  const { listJoined } = await import('../core/identity/store/joined.js');
  const [joined, live] = await Promise.all([listJoined(store), store.listNodes()]);
  return [...new Set([...joined.map((j) => j.node), ...live.map((n) => n.name)])].sort();
}

/** Throws a UsageError naming the known nodes and what to do when `name` is not one of them. */
export async function requireKnownNode(store: Store, name: string, from: string): Promise<void> {
  const known = await knownNodeNames(store);
  if (known.includes(name)) return;
  const which = from === '--node' ? `node ${name}` : `node ${name} (this host, from ${from})`;
  const list = known.length ? `known nodes: ${known.join(', ')}` : 'no node has joined or sent a heartbeat yet';
  throw new UsageError(
    `${which} is not in the mesh${didYouMean(name, known)} (${list}; see ambit node list): join it first (ambit node token create --node ${name}, then ambit node join on it, or start its ambitd), pass --node with a known node, or --allow-unknown-node to enroll ahead of it`,
    { node: name, known },
  );
}
