/**
 * The enrolled endpoints a DestinationRule subset selects, chosen by the very
 * function the waypoint narrows a cluster with (core/routing subsetEndpoints),
 * for `ambit explain` (where a route goes) and `ambit analyze` (a routed
 * subset that selects nothing).
 */
import { formatAuthority } from '../core/hbone/authority.js';
import { subsetEndpoints } from '../core/routing/index.js';
import type { EndpointRecord } from '../core/store/types.js';

export function subsetOf(records: readonly EndpointRecord[], labels: Readonly<Record<string, string>> | undefined): EndpointRecord[] {
  const byKey = new Map(records.map((ep) => [formatAuthority(ep.address, ep.port), ep]));
  const endpoints = [...byKey].map(([key, ep]) => ({ key, address: ep.address, port: ep.port, labels: ep.labels }));
  return subsetEndpoints(endpoints, labels).map((e) => byKey.get(e.key)!);
}
