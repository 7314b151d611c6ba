/**
 * The mesh as both proxies see it, rebuilt from each store snapshot and the
 * node list: the typed resources (parsed once), the workloads, the services
 * with their waypoints, the ServiceEntries, and the policies, each index in
 * its own module as ztunnel's ProxyState splits them. ambitd asks it per
 * connection (which service a VIP is, which workload a uid is, whether an
 * address is on this node, which peer hosts an endpoint); ambit-waypoint asks
 * it per request. Pure: no I/O, so it is read synchronously and tests build it
 * from plain records.
 */
import { ConnectionLimits } from './connection-limits.js';
import { compileTypedPolicies, type PolicySet } from '../authz/index.js';
import type { Resource } from '../config/resource.js';
import type { EndpointRecord, NodeRecord, Snapshot } from '../store/types.js';
import { isSecurityKey } from '../identity/manifest/format.js';
import { waypointOf } from '../store/waypoints.js';
import { EntryIndex, type EntryRoute, type RouteCandidate } from './entry-index.js';
import { MeshError } from './errors.js';
import { mtlsMode, type EffectiveMode } from './peer-authentication.js';
import { TypedResources, type RejectedResource } from './resources.js';
import { compileServiceEntries, type EntryCandidate, type ServiceEntryView } from './service-entries.js';
import { ServiceIndex, type ServiceRef, type ServiceView, type WaypointView } from './services.js';
import { WorkloadIndex, type CallerWorkload, type Peer } from './workloads.js';

export interface StateOptions {
  nodeName: string;
  trustDomain: string;
  domain: string;
  rootNamespace?: string;
  hbonePort?: number;
}

/** Kinds whose loss would relax security: one that fails its schema refuses the snapshot. */

export class MeshState {
  readonly revision: number;
  readonly typed: TypedResources;
  readonly policies: PolicySet;
  /** ConnectionLimits by service: enforced on this node's inbound paths (daemon/connection-limiter.ts). */
  readonly connectionLimits: ConnectionLimits;
  readonly #options: Required<StateOptions>;
  readonly #workloads: WorkloadIndex;
  readonly #services: ServiceIndex;
  readonly #entries: EntryIndex;

  constructor(snapshot: Snapshot, nodes: readonly NodeRecord[], options: StateOptions) {
    this.#options = { rootNamespace: 'istio-system', hbonePort: 15008, ...options };
    const o = this.#options;
    this.revision = snapshot.revision;
    this.typed = new TypedResources(snapshot.resources.values(), o.domain);
    const unsafe = this.typed.rejected.filter((r) => isSecurityKey(r.key));
    if (unsafe.length > 0) {
      throw new MeshError('EMESH_POLICY_INVALID', `stored security policy fails validation: ${unsafe.map((r) => r.reason).join('; ')}`, {
        resources: unsafe.map((r) => r.key),
      });
    }
    this.policies = compileTypedPolicies(this.typed.of('AuthorizationPolicy'), { rootNamespace: o.rootNamespace, trustDomain: o.trustDomain });
    this.connectionLimits = new ConnectionLimits(this.typed.of('ConnectionLimit'));
    this.#workloads = new WorkloadIndex(nodes, o);
    const workloads: EndpointRecord[] = [];
    const waypoints: WaypointView[] = [];
    for (const ep of snapshot.endpoints.values()) {
      const info = waypointOf(ep);
      // A waypoint is not a workload: never a VIP's endpoint, an inbound target or a capture address.
      if (info) waypoints.push({ endpoint: ep, info });
      else workloads.push(ep);
    }
    for (const ep of workloads) this.#workloads.addEnrolled(ep);
    for (const w of waypoints) if (w.info.node === o.nodeName) this.#workloads.addLocalIdentity(w.endpoint);
    this.#services = new ServiceIndex(snapshot.services.values(), workloads, waypoints, o);
    const entries = compileServiceEntries(this.typed.of('ServiceEntry'), this.typed.of('WorkloadEntry'), [...snapshot.endpoints.values()]);
    this.#entries = new EntryIndex(entries, this.#workloads);
  }

  get nodeName(): string {
    return this.#options.nodeName;
  }

  /** The stored documents, as applied. */
  get resources(): readonly Resource[] {
    return this.typed.stored;
  }

  /** Stored resources that failed their schema and were left out (not security ones: those refuse the snapshot). */
  get rejected(): readonly RejectedResource[] {
    return this.typed.rejected;
  }

  serviceByVip(ip: string): ServiceView | undefined {
    return this.#services.byVip(ip);
  }

  /** `reviews.default.svc.cluster.local` (lower case, no trailing dot). */
  serviceByName(fqdn: string): ServiceView | undefined {
    return this.#services.byName(fqdn);
  }

  services(): ServiceView[] {
    return this.#services.all();
  }

  /**
   * The ready waypoints a service's traffic must go through (empty: none attached,
   * or still starting, so traffic goes straight to the endpoints).
   */
  waypointsFor(service: ServiceView): readonly WaypointView[] {
    return this.#services.waypointsFor(service);
  }

  /** Waypoints registered on this node, ready or not: the ones this daemon runs. */
  localWaypoints(): readonly WaypointView[] {
    return this.#services.localWaypoints();
  }

  /** For VirtualService `sourceLabels`: the labels of the verified caller on the node it tunnelled from. */
  sourceLabels(principal: string, peerAddress: string): Readonly<Record<string, string>> | undefined {
    return this.#workloads.sourceLabels(principal, peerAddress);
  }

  /** The workload behind a verified tunnel (metrics' source_* labels): see WorkloadIndex.callerWorkload. */
  callerWorkload(principal: string, peerAddress: string): CallerWorkload | undefined {
    return this.#workloads.callerWorkload(principal, peerAddress);
  }

  /**
   * The service an endpoint serves, as metrics' destination_service names it:
   * its enrolled service's FQDN; for a WorkloadEntry, its ServiceEntry's first
   * host; else the FQDN its service name would have.
   */
  serviceOfEndpoint(ep: EndpointRecord): ServiceRef {
    const view = this.#services.of(ep.namespace, ep.service);
    if (view) return serviceRef(view);
    const host = this.#entries.all().find((e) => e.namespace === ep.namespace && e.name === ep.service)?.hosts[0];
    if (host) return { host, name: host, namespace: ep.namespace };
    return { host: `${ep.service}.${ep.namespace}.svc.${this.#options.domain}`, name: ep.service, namespace: ep.namespace };
  }

  /** The ServiceEntry a connection to `ip`:`port` is for (its addresses or allocated VIPs), with its candidates. */
  serviceEntryAt(ip: string, port: number): EntryRoute | undefined {
    return this.#entries.routeAt(ip, port);
  }

  classify(entry: ServiceEntryView, c: EntryCandidate): RouteCandidate {
    return this.#entries.classify(entry, c);
  }

  /** What mesh DNS answers for a ServiceEntry host (lower case), or undefined. */
  serviceEntryAddresses(host: string): string[] | undefined {
    return this.#entries.addressesOf(host);
  }

  serviceEntries(): ServiceEntryView[] {
    return [...this.#entries.all()];
  }

  /** ServiceEntry addresses and CIDRs outbound capture must cover (the VIP range aside). */
  serviceEntryCidrs(): string[] {
    return this.#entries.cidrs();
  }

  /** Any enrolled endpoint, on any node, by its address. */
  endpointAt(ip: string, port: number): EndpointRecord | undefined {
    return this.#workloads.endpointAt(ip, port);
  }

  /** An endpoint on this node: the only targets inbound HBONE will dial. */
  localEndpoint(ip: string, port: number): EndpointRecord | undefined {
    return this.#workloads.localEndpoint(ip, port);
  }

  localEndpoints(): EndpointRecord[] {
    return this.#workloads.localEndpoints();
  }

  /** The enrolled workload a captured socket's owner uid belongs to. */
  workloadForUid(uid: number): EndpointRecord | undefined {
    return this.#workloads.workloadForUid(uid);
  }

  /** SPIFFE IDs of every workload enrolled on this node: the certificates it needs. */
  localIdentities(): string[] {
    return this.#workloads.localIdentities();
  }

  identityOf(ep: EndpointRecord): string {
    return this.#workloads.identityOf(ep);
  }

  /** Where to tunnel for an endpoint: its node's address (or its own), on the HBONE port. */
  peerFor(ep: EndpointRecord): Peer {
    return this.#workloads.peerFor(ep);
  }

  isLocal(ep: EndpointRecord): boolean {
    return this.#workloads.isLocal(ep);
  }

  mtlsMode(ep: EndpointRecord): EffectiveMode {
    return mtlsMode(this.typed.of('PeerAuthentication'), ep, ep.port, this.#options.rootNamespace);
  }

  /** Uids whose outbound traffic is captured: the enrolled users on this node. */
  captureUids(): number[] {
    return this.#workloads.captureUids();
  }

  /** Ports of local workloads in STRICT mode: plaintext to them is refused by iptables. */
  strictPorts(): number[] {
    return [
      ...new Set(
        this.localEndpoints()
          .filter((ep) => this.mtlsMode(ep) === 'STRICT')
          .map((ep) => ep.port),
      ),
    ].sort((a, b) => a - b);
  }

  /** Addresses outbound capture must cover besides the VIP range: every endpoint's (loopback aside). */
  endpointAddresses(): string[] {
    return this.#workloads.endpointAddresses();
  }
}

/** A service view as a connection names it. */
export function serviceRef(view: ServiceView): ServiceRef {
  return { host: view.fqdn, name: view.record.name, namespace: view.record.namespace };
}
