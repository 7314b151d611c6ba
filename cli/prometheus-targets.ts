/**
 * What Prometheus should scrape, from the store: Prometheus's file_sd / HTTP SD
 * target groups for every node's ambitd (the nodes whose heartbeat is live, at
 * their address on the daemon's metrics port) and, for a Prometheus running on
 * one node, that node's waypoints. Waypoints serve metrics on 127.0.0.1 unless
 * their daemon's ambitd.yaml sets waypointMetricsAddress (daemon/waypoints.ts),
 * and the store does not record that setting, so they are listed only when
 * asked: with `node`, at loopback, or with `waypoints`, at their node's address
 * for a central Prometheus. Listing them otherwise would only add targets that
 * are down. Pure, so the command and its test read the same answer.
 */
import { formatAuthority } from '../core/hbone/authority.js';
import type { EndpointRecord, NodeRecord } from '../core/store/types.js';
import { waypointOf } from '../core/store/waypoints.js';

/** One entry of Prometheus's file_sd_configs / http_sd_configs format. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface TargetOptions {
  /** The daemons' metrics port (ambitd.yaml ports.metrics; the store does not record it). */
  daemonPort: number;
  /** Only this node's daemon, plus its waypoints at 127.0.0.1. */
  node?: string;
  /** Every listed node's waypoints at their node's address (their daemons set waypointMetricsAddress). */
  waypoints?: boolean;
}

export function scrapeTargets(nodes: readonly NodeRecord[], endpoints: readonly EndpointRecord[], o: TargetOptions): TargetGroup[] {
  const groups: TargetGroup[] = nodes
    .filter((n) => o.node === undefined || n.name === o.node)
    .map((n) => ({ targets: [formatAuthority(n.address, o.daemonPort)], labels: { job: 'ambitd', ambit_node: n.name } }));
  if (o.node !== undefined || o.waypoints) {
    for (const ep of endpoints) {
      const w = waypointOf(ep);
      if (!w || (o.node !== undefined && w.node !== o.node)) continue;
      groups.push({
        targets: [formatAuthority(o.waypoints ? w.address : '127.0.0.1', w.metricsPort)],
        labels: { job: 'ambit-waypoint', ambit_node: w.node, ambit_waypoint_for: `${w.namespace}/${w.service}` },
      });
    }
  }
  // By job, node, target, in code-point order: the same store gives the same bytes, so --watch rewrites only on a change.
  const key = (g: TargetGroup) => `${g.labels.job}|${g.labels.ambit_node}|${g.targets[0]}`;
  return groups.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
