/**
 * Whether a waypoint is ready is its node's word, kept in that node's own key
 * (`waypoint-ready:<node>`, which only that node's store user may write), not
 * in the shared endpoint records (which only operators may write). Readers lay
 * it over the records: a waypoint endpoint is `ready` when the node it is
 * registered on says so, and a node's word about an endpoint on another node
 * counts for nothing.
 */
import { endpointKey } from './keys.js';
import type { EndpointRecord } from './types.js';
import { WAYPOINT_FOR_LABEL, withWaypointState } from './waypoints.js';

/** Endpoint keys each node says are ready, flattened to those the node may speak for. */
export function readinessFrom(byNode: ReadonlyMap<string, Record<string, string>>): Set<string> {
  const ready = new Set<string>();
  for (const [node, fields] of byNode) {
    for (const [key, value] of Object.entries(fields)) {
      // endpointKey is namespace/service/node/address:port: the third segment must be the writer.
      if (value === 'ready' && key.split('/')[2] === node) ready.add(key);
    }
  }
  return ready;
}

/** The record as readers should see it: a waypoint's state label from its node's word. */
export function withReadiness(ep: EndpointRecord, ready: ReadonlySet<string>): EndpointRecord {
  if (ep.labels[WAYPOINT_FOR_LABEL] === undefined) return ep;
  return withWaypointState(ep, ready.has(endpointKey(ep)) ? 'ready' : 'starting');
}
