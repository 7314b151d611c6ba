/**
 * The daemon's view of the mesh, rebuilt from each store snapshot (and the
 * node list) into the indexes the data plane asks per connection: which
 * service a VIP is, which enrolled workload a uid is, whether an address is a
 * workload on this node, which peer node hosts an endpoint. Pure: no I/O, so
 * proxies read it synchronously and tests build it from plain records.
 */
import type { Resource } from '../core/config/resource.js';
import { compilePolicies, type PolicySet } from '../core/authz/index.js';
import type { EndpointRecord, NodeRecord, ServiceRecord, Snapshot } from '../core/store/types.js';
import { inRanges, parseAddress, parseRanges, type Ranges } from '../core/authz/address.js';
import { waypointOf, type WaypointInfo } from '../core/store/waypoints.js';
import { mtlsMode, type EffectiveMode } from './peer-authentication.js';
import { compileServiceEntries, entryCandidates, entryPort, type EntryCandidate, type EntryPort, type ServiceEntryView } from './service-entries.js';

export interface StateOptions {
  nodeName: string;
  trustDomain: string;
  domain: string;
  rootNamespace?: string;
  hbonePort?: number;
}

export interface ServiceView {
  record: ServiceRecord;
  fqdn: string;
  endpoints: EndpointRecord[];
}

/** A connection to a ServiceEntry address, and where it may go. */
export interface EntryRoute {
  /** Round-robin and ejection key: one per entry host and port. */
  key: string;
  entry: ServiceEntryView;
  host: string;
  port: EntryPort;
  /** Empty for resolution NONE: the connection goes to its original destination. */
  candidates: RouteCandidate[];
}

export interface RouteCandidate extends EntryCandidate {
  /** Set for MESH_INTERNAL workloads on a mesh node: reach them over HBONE as this endpoint. */
  workload?: EndpointRecord;
}

/** A waypoint registered in the store (an endpoint of `<svc>-waypoint`). */
export interface WaypointView {
  endpoint: EndpointRecord;
  info: WaypointInfo;
}

interface EntryAddress {
  entry: ServiceEntryView;
  host: string;
}

export class MeshState {
  readonly revision: number;
  readonly policies: PolicySet;
  readonly resources: readonly Resource[];
  readonly #byVip = new Map<string, ServiceView>();
  readonly #byFqdn = new Map<string, ServiceView>();
  readonly #byEndpoint = new Map<string, EndpointRecord>();
  readonly #local = new Map<string, EndpointRecord>();
  readonly #byUid = new Map<number, EndpointRecord>();
  /** Local endpoints from enrollment (not WorkloadEntries): the identities this node holds certificates for. */
  readonly #enrolledLocal: EndpointRecord[] = [];
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #nodeByAddress = new Map<string, NodeRecord>();
  readonly #entries: ServiceEntryView[];
  readonly #entryByIp = new Map<string, EntryAddress>();
  readonly #entryRanges: { ranges: Ranges; at: EntryAddress }[] = [];
  readonly #entryByHost = new Map<string, string[]>();
  readonly #routes = new Map<string, EntryRoute | undefined>();
  /** Ready waypoints by the `namespace/name` of the service they serve. */
  readonly #waypoints = new Map<string, WaypointView[]>();
  readonly #localWaypoints: WaypointView[] = [];
  readonly #options: Required<StateOptions>;

  constructor(snapshot: Snapshot, nodes: readonly NodeRecord[], options: StateOptions) {
    this.#options = { rootNamespace: 'istio-system', hbonePort: 15008, ...options };
    this.revision = snapshot.revision;
    this.resources = [...snapshot.resources.values()];
    this.policies = compilePolicies(this.resources, { rootNamespace: this.#options.rootNamespace, trustDomain: options.trustDomain });
    for (const n of nodes) {
      this.#nodes.set(n.name, n);
      this.#nodeByAddress.set(n.address, n);
    }
    const endpointsOf = new Map<string, EndpointRecord[]>();
    for (const ep of snapshot.endpoints.values()) {
      const waypoint = waypointOf(ep);
      if (waypoint) {
        // Not a workload: never a VIP's endpoint, an inbound target or a capture address.
        this.#indexWaypoint({ endpoint: ep, info: waypoint }, options.nodeName);
        continue;
      }
      const key = `${ep.namespace}/${ep.service}`;
      endpointsOf.set(key, [...(endpointsOf.get(key) ?? []), ep]);
      this.#byEndpoint.set(addressKey(ep.address, ep.port), ep);
      if (ep.node === options.nodeName) {
        this.#local.set(addressKey(ep.address, ep.port), ep);
        this.#enrolledLocal.push(ep);
        if (ep.uid !== undefined) this.#byUid.set(ep.uid, ep);
      }
    }
    for (const record of snapshot.services.values()) {
      const view: ServiceView = {
        record,
        fqdn: `${record.name}.${record.namespace}.svc.${options.domain}`,
        endpoints: (endpointsOf.get(`${record.namespace}/${record.name}`) ?? []).sort((a, b) => addressKey(a.address, a.port).localeCompare(addressKey(b.address, b.port))),
      };
      if (record.vip) this.#byVip.set(record.vip, view);
      this.#byFqdn.set(view.fqdn, view);
    }
    this.#entries = compileServiceEntries(this.resources, [...snapshot.endpoints.values()]);
    for (const entry of this.#entries) this.#indexEntry(entry);
  }

  #indexWaypoint(w: WaypointView, nodeName: string): void {
    if (w.info.node === nodeName) {
      this.#localWaypoints.push(w);
      // Its certificate is obtained like any local workload's.
      this.#enrolledLocal.push(w.endpoint);
    }
    if (w.info.state !== 'ready') return;
    const key = `${w.info.namespace}/${w.info.service}`;
    this.#waypoints.set(key, [...(this.#waypoints.get(key) ?? []), w]);
  }

  #indexEntry(entry: ServiceEntryView): void {
    for (const [host, ips] of entry.dnsAddresses) {
      if (!this.#entryByHost.has(host)) this.#entryByHost.set(host, ips);
      // An allocated VIP belongs to its host; addresses the entry gives are shared by its
      // hosts, and the first host (the first one here) names them, as the DNS answers do.
      for (const ip of ips) if (!this.#entryByIp.has(ip)) this.#entryByIp.set(ip, { entry, host });
    }
    for (const a of entry.addresses) {
      if (a.includes('/')) this.#entryRanges.push({ ranges: parseRanges([a]), at: { entry, host: entry.hosts[0] ?? '' } });
      else if (!this.#entryByIp.has(a)) this.#entryByIp.set(a, { entry, host: entry.hosts[0] ?? '' });
    }
    if (entry.location !== 'MESH_INTERNAL') return;
    // WorkloadEntries on mesh nodes are mesh workloads: reachable by address over HBONE,
    // and (on their own node) admitted by inbound like enrolled ones.
    for (const port of entry.ports) {
      for (const c of entryCandidates(entry, entry.hosts[0] ?? '', port)) {
        if (c.resolve || this.#byEndpoint.has(addressKey(c.address, c.port))) continue;
        const ep = this.#workloadOnNode(entry, c);
        if (!ep) continue;
        this.#byEndpoint.set(addressKey(ep.address, ep.port), ep);
        if (ep.node === this.#options.nodeName) this.#local.set(addressKey(ep.address, ep.port), ep);
      }
    }
  }

  /** The endpoint record a workload at a node's address stands for, or undefined when no node has it. */
  #workloadOnNode(entry: ServiceEntryView, c: EntryCandidate): EndpointRecord | undefined {
    const node = this.#nodeByAddress.get(c.address);
    if (!node) return undefined;
    return { service: entry.name, namespace: entry.namespace, node: node.name, address: c.address, port: c.port, serviceAccount: c.serviceAccount ?? 'default', labels: c.labels };
  }

  get nodeName(): string {
    return this.#options.nodeName;
  }

  serviceByVip(ip: string): ServiceView | undefined {
    return this.#byVip.get(ip);
  }

  /** `reviews.default.svc.cluster.local` (lower case, no trailing dot). */
  serviceByName(fqdn: string): ServiceView | undefined {
    return this.#byFqdn.get(fqdn);
  }

  services(): ServiceView[] {
    return [...this.#byFqdn.values()];
  }

  /**
   * The ready waypoints a service's traffic must go through (empty: none attached,
   * or still starting, so traffic goes straight to the endpoints).
   */
  waypointsFor(service: ServiceView): readonly WaypointView[] {
    return this.#waypoints.get(`${service.record.namespace}/${service.record.name}`) ?? [];
  }

  /**
   * The labels of the workload behind a verified tunnel: the endpoints with that
   * identity on the node the tunnel came from (a daemon dials from its node's
   * address), reduced to the labels they all share, since one identity may run
   * as several endpoints on a node. For VirtualService `sourceLabels`.
   */
  sourceLabels(principal: string, peerAddress: string): Readonly<Record<string, string>> | undefined {
    const node = this.#nodeByAddress.get(peerAddress);
    if (!node) return undefined;
    const eps = [...this.#byEndpoint.values()].filter((ep) => ep.node === node.name && identityOf(this.#options.trustDomain, ep) === principal);
    if (eps.length === 0) return undefined;
    return Object.fromEntries(Object.entries(eps[0]!.labels).filter(([k, v]) => eps.every((ep) => ep.labels[k] === v)));
  }

  /** Waypoints registered on this node, ready or not: the ones this daemon runs. */
  localWaypoints(): readonly WaypointView[] {
    return this.#localWaypoints;
  }

  /** The ServiceEntry a connection to `ip`:`port` is for (its addresses or allocated VIPs), with its candidates. */
  serviceEntryAt(ip: string, port: number): EntryRoute | undefined {
    const cacheKey = addressKey(ip, port);
    if (this.#routes.has(cacheKey)) return this.#routes.get(cacheKey);
    const route = this.#entryRoute(ip, port);
    this.#routes.set(cacheKey, route);
    return route;
  }

  #entryRoute(ip: string, port: number): EntryRoute | undefined {
    let at = this.#entryByIp.get(ip);
    if (!at) {
      const addr = parseAddress(ip);
      at = addr === undefined ? undefined : this.#entryRanges.find((r) => inRanges(addr, r.ranges))?.at;
    }
    if (!at) return undefined;
    const p = entryPort(at.entry, port);
    if (!p) return undefined;
    const candidates = entryCandidates(at.entry, at.host, p).map((c) => this.classify(at.entry, c));
    return { key: `${at.entry.namespace}/${at.entry.name}/${at.host}:${p.number}`, entry: at.entry, host: at.host, port: p, candidates };
  }

  /**
   * A candidate with its mesh workload when it is one: MESH_INTERNAL and an
   * enrolled endpoint, or on a node's address (a WorkloadEntry, which takes its
   * identity from its serviceAccount). Everything else is plain TCP. Also for
   * candidates resolved by DNS at connect time (`c.address` then the resolved IP).
   */
  classify(entry: ServiceEntryView, c: EntryCandidate): RouteCandidate {
    if (entry.location !== 'MESH_INTERNAL' || c.resolve) return c;
    const workload = this.#byEndpoint.get(addressKey(c.address, c.port)) ?? this.#workloadOnNode(entry, c);
    return workload ? { ...c, workload } : c;
  }

  /** What mesh DNS answers for a ServiceEntry host (lower case), or undefined. */
  serviceEntryAddresses(host: string): string[] | undefined {
    return this.#entryByHost.get(host);
  }

  serviceEntries(): ServiceEntryView[] {
    return [...this.#entries];
  }

  /** ServiceEntry addresses and CIDRs outbound capture must cover (the VIP range aside). */
  serviceEntryCidrs(): string[] {
    const cidrs = this.#entries.flatMap((e) => e.addresses).map((a) => (a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`));
    return [...new Set(cidrs)].sort();
  }

  /** Any enrolled endpoint, on any node, by its address. */
  endpointAt(ip: string, port: number): EndpointRecord | undefined {
    return this.#byEndpoint.get(addressKey(ip, port));
  }

  /** An endpoint on this node: the only targets inbound HBONE will dial. */
  localEndpoint(ip: string, port: number): EndpointRecord | undefined {
    return this.#local.get(addressKey(ip, port));
  }

  localEndpoints(): EndpointRecord[] {
    return [...this.#local.values()];
  }

  /** The enrolled workload a captured socket's owner uid belongs to. */
  workloadForUid(uid: number): EndpointRecord | undefined {
    return this.#byUid.get(uid);
  }

  /** SPIFFE IDs of every workload enrolled on this node: the certificates it needs. */
  localIdentities(): string[] {
    return [...new Set(this.#enrolledLocal.map((ep) => identityOf(this.#options.trustDomain, ep)))].sort();
  }

  identityOf(ep: EndpointRecord): string {
    return identityOf(this.#options.trustDomain, ep);
  }

  /** Where to tunnel for an endpoint: its node's address (or its own), on the HBONE port. */
  peerFor(ep: EndpointRecord): { host: string; port: number; node: string } {
    const node = this.#nodes.get(ep.node);
    return { host: node?.address ?? ep.address, port: node?.hbonePort ?? this.#options.hbonePort, node: ep.node };
  }

  isLocal(ep: EndpointRecord): boolean {
    return ep.node === this.#options.nodeName;
  }

  mtlsMode(ep: EndpointRecord): EffectiveMode {
    return mtlsMode(this.resources, ep, ep.port, this.#options.rootNamespace);
  }

  /** Uids whose outbound traffic is captured: the enrolled users on this node. */
  captureUids(): number[] {
    return [...this.#byUid.keys()].sort((a, b) => a - b);
  }

  /** Ports of local workloads in STRICT mode: plaintext to them is refused by iptables. */
  strictPorts(): number[] {
    return [...new Set(this.localEndpoints().filter((ep) => this.mtlsMode(ep) === 'STRICT').map((ep) => ep.port))].sort((a, b) => a - b);
  }

  /**
   * Addresses outbound capture must cover besides the VIP range: every
   * endpoint's. Loopback ones are left out: capturing 127.0.0.1 would take
   * every local connection of an enrolled user, not just mesh traffic.
   */
  endpointAddresses(): string[] {
    const routable = [...this.#byEndpoint.values()].map((ep) => ep.address).filter((a) => !a.startsWith('127.') && a !== '::1');
    return [...new Set(routable)].sort();
  }
}

export function addressKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function identityOf(trustDomain: string, ep: EndpointRecord): string {
  return `spiffe://${trustDomain}/ns/${ep.namespace}/sa/${ep.serviceAccount}`;
}
