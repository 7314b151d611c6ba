/**
 * The mesh's services: each by VIP (what a captured connection is addressed to)
 * and by DNS name (what mesh DNS and a waypoint's Host match), with its
 * endpoints in a stable order, and the waypoints registered for them. A
 * waypoint is stored as an endpoint of `<svc>-waypoint`, but it is never a
 * service's endpoint: traffic reaches it only because its service names it.
 */
import { formatAuthority } from '../hbone/authority.js';
import { serviceKey } from '../store/keys.js';
import { pushTo } from './group.js';
import type { WaypointInfo } from '../store/waypoints.js';
import type { EndpointRecord, ServiceRecord } from '../store/types.js';

export interface ServiceView {
  record: ServiceRecord;
  fqdn: string;
  endpoints: EndpointRecord[];
}

/** A service as a connection names it: its host, short name and namespace. */
export interface ServiceRef {
  /** `reviews.default.svc.cluster.local`, or a ServiceEntry host. */
  host: string;
  /** `reviews`; a ServiceEntry host names itself. */
  name: string;
  namespace: string;
}

/** A waypoint registered in the store (an endpoint of `<svc>-waypoint`). */
export interface WaypointView {
  endpoint: EndpointRecord;
  info: WaypointInfo;
}

export class ServiceIndex {
  readonly #byVip = new Map<string, ServiceView>();
  readonly #byFqdn = new Map<string, ServiceView>();
  readonly #byKey = new Map<string, ServiceView>();
  /** Ready waypoints by the `namespace/name` of the service they serve. */
  readonly #waypoints = new Map<string, WaypointView[]>();
  readonly #localWaypoints: WaypointView[] = [];

  constructor(
    services: Iterable<ServiceRecord>,
    endpoints: readonly EndpointRecord[],
    waypoints: readonly WaypointView[],
    o: { nodeName: string; domain: string },
  ) {
    const endpointsOf = new Map<string, EndpointRecord[]>();
    for (const ep of endpoints) {
      const key = serviceKey(ep.namespace, ep.service);
      pushTo(endpointsOf, key, ep);
    }
    const order = (a: EndpointRecord, b: EndpointRecord) => formatAuthority(a.address, a.port).localeCompare(formatAuthority(b.address, b.port));
    for (const record of services) {
      const view: ServiceView = {
        record,
        fqdn: `${record.name}.${record.namespace}.svc.${o.domain}`,
        endpoints: (endpointsOf.get(serviceKey(record.namespace, record.name)) ?? []).sort(order),
      };
      if (record.vip) this.#byVip.set(record.vip, view);
      this.#byFqdn.set(view.fqdn, view);
      this.#byKey.set(serviceKey(record.namespace, record.name), view);
    }
    for (const w of waypoints) {
      if (w.info.node === o.nodeName) this.#localWaypoints.push(w);
      if (w.info.state !== 'ready') continue;
      const key = serviceKey(w.info.namespace, w.info.service);
      pushTo(this.#waypoints, key, w);
    }
  }

  byVip(ip: string): ServiceView | undefined {
    return this.#byVip.get(ip);
  }

  /** `reviews.default.svc.cluster.local` (lower case, no trailing dot). */
  byName(fqdn: string): ServiceView | undefined {
    return this.#byFqdn.get(fqdn);
  }

  /** The enrolled service `name` in `namespace`. */
  of(namespace: string, name: string): ServiceView | undefined {
    return this.#byKey.get(serviceKey(namespace, name));
  }

  all(): ServiceView[] {
    return [...this.#byFqdn.values()];
  }

  /** The ready waypoints of a service (empty: none attached, or still starting). */
  waypointsFor(service: ServiceView): readonly WaypointView[] {
    return this.#waypoints.get(serviceKey(service.record.namespace, service.record.name)) ?? [];
  }

  /** Waypoints registered on this node, ready or not: the ones its daemon runs. */
  localWaypoints(): readonly WaypointView[] {
    return this.#localWaypoints;
  }
}
