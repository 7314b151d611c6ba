/**
 * Where the mesh's workloads are: every enrolled endpoint by address, this
 * node's by address and by Unix uid (the kernel's answer to "who opened this
 * socket"), and the nodes by name and by address (where to tunnel, and which
 * node a verified tunnel came from). ztunnel keeps the same split: workloads
 * apart from services and policies, so each index has one owner.
 */
import { formatAuthority } from '../hbone/authority.js';
import { workloadUri } from '../identity/spiffe.js';
import type { EndpointRecord, NodeRecord } from '../store/types.js';

/** The workload behind a verified tunnel (one identity on one node). */
export interface CallerWorkload {
  service?: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export interface Peer {
  host: string;
  port: number;
  node: string;
}

export class WorkloadIndex {
  readonly #nodeName: string;
  readonly #trustDomain: string;
  readonly #hbonePort: number;
  readonly #byEndpoint = new Map<string, EndpointRecord>();
  readonly #local = new Map<string, EndpointRecord>();
  readonly #byUid = new Map<number, EndpointRecord>();
  /** Local endpoints from enrollment (not WorkloadEntries): the identities this node holds certificates for. */
  readonly #enrolledLocal: EndpointRecord[] = [];
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #nodeByAddress = new Map<string, NodeRecord>();
  readonly #callers = new Map<string, CallerWorkload | undefined>();

  constructor(nodes: readonly NodeRecord[], o: { nodeName: string; trustDomain: string; hbonePort: number }) {
    this.#nodeName = o.nodeName;
    this.#trustDomain = o.trustDomain;
    this.#hbonePort = o.hbonePort;
    for (const n of nodes) {
      this.#nodes.set(n.name, n);
      this.#nodeByAddress.set(n.address, n);
    }
  }

  /** An enrolled workload; on this node it also needs a certificate and (with a uid) capture. */
  addEnrolled(ep: EndpointRecord): void {
    this.#byEndpoint.set(formatAuthority(ep.address, ep.port), ep);
    if (ep.node !== this.#nodeName) return;
    this.#local.set(formatAuthority(ep.address, ep.port), ep);
    this.#enrolledLocal.push(ep);
    if (ep.uid !== undefined) this.#byUid.set(ep.uid, ep);
  }

  /** A waypoint running on this node: its certificate is obtained like any local workload's. */
  addLocalIdentity(ep: EndpointRecord): void {
    this.#enrolledLocal.push(ep);
  }

  /**
   * A WorkloadEntry on a mesh node: reachable by address over HBONE, and (on
   * its own node) admitted by inbound, but it has no uid and no certificate of its own.
   */
  addMeshWorkload(ep: EndpointRecord): void {
    const key = formatAuthority(ep.address, ep.port);
    if (this.#byEndpoint.has(key)) return;
    this.#byEndpoint.set(key, ep);
    if (ep.node === this.#nodeName) this.#local.set(key, ep);
  }

  nodeAt(address: string): NodeRecord | undefined {
    return this.#nodeByAddress.get(address);
  }

  /** Any workload, on any node, by its address. */
  endpointAt(ip: string, port: number): EndpointRecord | undefined {
    return this.#byEndpoint.get(formatAuthority(ip, port));
  }

  /** A workload on this node: the only targets inbound HBONE will dial. */
  localEndpoint(ip: string, port: number): EndpointRecord | undefined {
    return this.#local.get(formatAuthority(ip, port));
  }

  localEndpoints(): EndpointRecord[] {
    return [...this.#local.values()];
  }

  workloadForUid(uid: number): EndpointRecord | undefined {
    return this.#byUid.get(uid);
  }

  identityOf(ep: EndpointRecord): string {
    return identityOf(this.#trustDomain, ep);
  }

  /** SPIFFE IDs of every workload enrolled on this node: the certificates it needs. */
  localIdentities(): string[] {
    return [...new Set(this.#enrolledLocal.map((ep) => this.identityOf(ep)))].sort();
  }

  /**
   * The labels of the workload behind a verified tunnel: the endpoints with that
   * identity on the node the tunnel came from (a daemon dials from its node's
   * address), reduced to the labels they all share, since one identity may run
   * as several endpoints on a node.
   */
  sourceLabels(principal: string, peerAddress: string): Readonly<Record<string, string>> | undefined {
    return this.callerWorkload(principal, peerAddress)?.labels;
  }

  /**
   * The workload behind a verified tunnel, as sourceLabels finds it: its
   * namespace, the shared labels, and the service when all its endpoints there
   * are of one service (else undefined: telemetry then says "unknown").
   */
  callerWorkload(principal: string, peerAddress: string): CallerWorkload | undefined {
    // Asked per request and per connection; the index never changes, so each answer is kept.
    const key = `${principal} ${peerAddress}`;
    if (this.#callers.has(key)) return this.#callers.get(key);
    const found = this.#findCaller(principal, peerAddress);
    this.#callers.set(key, found);
    return found;
  }

  #findCaller(principal: string, peerAddress: string): CallerWorkload | undefined {
    const node = this.#nodeByAddress.get(peerAddress);
    if (!node) return undefined;
    const eps = [...this.#byEndpoint.values()].filter((ep) => ep.node === node.name && this.identityOf(ep) === principal);
    const first = eps[0];
    if (!first) return undefined;
    const labels = Object.fromEntries(Object.entries(first.labels).filter(([k, v]) => eps.every((ep) => ep.labels[k] === v)));
    const service = eps.every((ep) => ep.service === first.service) ? first.service : undefined;
    return { namespace: first.namespace, labels, ...(service !== undefined ? { service } : {}) };
  }

  /** Where to tunnel for a workload: its node's address (or its own), on the HBONE port. */
  peerFor(ep: EndpointRecord): Peer {
    const node = this.#nodes.get(ep.node);
    return { host: node?.address ?? ep.address, port: node?.hbonePort ?? this.#hbonePort, node: ep.node };
  }

  isLocal(ep: EndpointRecord): boolean {
    return ep.node === this.#nodeName;
  }

  /** Uids whose outbound traffic is captured: the enrolled users on this node. */
  captureUids(): number[] {
    return [...this.#byUid.keys()].sort((a, b) => a - b);
  }

  /**
   * Addresses outbound capture must cover besides the VIP range: every
   * workload's. Loopback ones are left out: capturing 127.0.0.1 would take
   * every local connection of an enrolled user, not just mesh traffic.
   */
  endpointAddresses(): string[] {
    const routable = [...this.#byEndpoint.values()].map((ep) => ep.address).filter((a) => !a.startsWith('127.') && a !== '::1');
    return [...new Set(routable)].sort();
  }
}

export function identityOf(trustDomain: string, ep: EndpointRecord): string {
  return workloadUri(trustDomain, ep.namespace, ep.serviceAccount);
}
