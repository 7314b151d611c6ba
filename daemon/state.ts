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
import { mtlsMode, type EffectiveMode } from './peer-authentication.js';

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

export class MeshState {
  readonly revision: number;
  readonly policies: PolicySet;
  readonly resources: readonly Resource[];
  readonly #byVip = new Map<string, ServiceView>();
  readonly #byFqdn = new Map<string, ServiceView>();
  readonly #byEndpoint = new Map<string, EndpointRecord>();
  readonly #local = new Map<string, EndpointRecord>();
  readonly #byUid = new Map<number, EndpointRecord>();
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #options: Required<StateOptions>;

  constructor(snapshot: Snapshot, nodes: readonly NodeRecord[], options: StateOptions) {
    this.#options = { rootNamespace: 'istio-system', hbonePort: 15008, ...options };
    this.revision = snapshot.revision;
    this.resources = [...snapshot.resources.values()];
    this.policies = compilePolicies(this.resources, { rootNamespace: this.#options.rootNamespace, trustDomain: options.trustDomain });
    for (const n of nodes) this.#nodes.set(n.name, n);
    const endpointsOf = new Map<string, EndpointRecord[]>();
    for (const ep of snapshot.endpoints.values()) {
      const key = `${ep.namespace}/${ep.service}`;
      endpointsOf.set(key, [...(endpointsOf.get(key) ?? []), ep]);
      this.#byEndpoint.set(addressKey(ep.address, ep.port), ep);
      if (ep.node === options.nodeName) {
        this.#local.set(addressKey(ep.address, ep.port), ep);
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
    return [...new Set(this.localEndpoints().map((ep) => identityOf(this.#options.trustDomain, ep)))].sort();
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
