/**
 * Which ServiceEntry a connection is for, by the address it was sent to (a given
 * IP or CIDR, or an allocated VIP) and its port, and where it may go from there:
 * the entry's candidates, each classified as a mesh workload (HBONE) or plain
 * TCP. Routes are cached per address:port for the life of one snapshot, since
 * the same callers ask again and again.
 */
import { inRanges, parseAddress, parseRanges, type Ranges } from '../authz/address.js';
import { formatAuthority } from '../hbone/authority.js';
import type { EndpointRecord } from '../store/types.js';
import { entryCandidates, entryPort, type EntryCandidate, type EntryPort, type ServiceEntryView } from './service-entries.js';
import type { WorkloadIndex } from './workloads.js';

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

interface EntryAddress {
  entry: ServiceEntryView;
  host: string;
}

export class EntryIndex {
  readonly #entries: readonly ServiceEntryView[];
  readonly #workloads: WorkloadIndex;
  readonly #byIp = new Map<string, EntryAddress>();
  readonly #ranges: { ranges: Ranges; at: EntryAddress }[] = [];
  readonly #byHost = new Map<string, string[]>();
  readonly #routes = new Map<string, EntryRoute | undefined>();

  /** Also registers the entries' MESH_INTERNAL workloads that sit on mesh nodes with `workloads`. */
  constructor(entries: readonly ServiceEntryView[], workloads: WorkloadIndex) {
    this.#entries = entries;
    this.#workloads = workloads;
    for (const entry of entries) this.#index(entry);
  }

  #index(entry: ServiceEntryView): void {
    const first = entry.hosts[0] ?? '';
    for (const [host, ips] of entry.dnsAddresses) {
      if (!this.#byHost.has(host)) this.#byHost.set(host, ips);
      // An allocated VIP belongs to its host; addresses the entry gives are shared by its
      // hosts, and the first host (the first one here) names them, as the DNS answers do.
      for (const ip of ips) if (!this.#byIp.has(ip)) this.#byIp.set(ip, { entry, host });
    }
    for (const a of entry.addresses) {
      if (a.includes('/')) this.#ranges.push({ ranges: parseRanges([a]), at: { entry, host: first } });
      else if (!this.#byIp.has(a)) this.#byIp.set(a, { entry, host: first });
    }
    if (entry.location !== 'MESH_INTERNAL') return;
    // WorkloadEntries on mesh nodes are mesh workloads: reachable by address over HBONE,
    // and (on their own node) admitted by inbound like enrolled ones.
    for (const port of entry.ports) {
      for (const c of entryCandidates(entry, first, port)) {
        if (c.resolve) continue;
        const ep = this.#workloadOnNode(entry, c);
        if (ep) this.#workloads.addMeshWorkload(ep);
      }
    }
  }

  /** The endpoint record a workload at a node's address stands for, or undefined when no node has it. */
  #workloadOnNode(entry: ServiceEntryView, c: EntryCandidate): EndpointRecord | undefined {
    const node = this.#workloads.nodeAt(c.address);
    if (!node) return undefined;
    return {
      service: entry.name,
      namespace: entry.namespace,
      node: node.name,
      address: c.address,
      port: c.port,
      serviceAccount: c.serviceAccount ?? 'default',
      labels: c.labels,
    };
  }

  all(): readonly ServiceEntryView[] {
    return this.#entries;
  }

  /** The ServiceEntry a connection to `ip`:`port` is for, with its candidates. */
  routeAt(ip: string, port: number): EntryRoute | undefined {
    const cacheKey = formatAuthority(ip, port);
    if (this.#routes.has(cacheKey)) return this.#routes.get(cacheKey);
    const route = this.#route(ip, port);
    this.#routes.set(cacheKey, route);
    return route;
  }

  #route(ip: string, port: number): EntryRoute | undefined {
    let at = this.#byIp.get(ip);
    if (!at) {
      const addr = parseAddress(ip);
      at = addr === undefined ? undefined : this.#ranges.find((r) => inRanges(addr, r.ranges))?.at;
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
    const workload = this.#workloads.endpointAt(c.address, c.port) ?? this.#workloadOnNode(entry, c);
    return workload ? { ...c, workload } : c;
  }

  /** What mesh DNS answers for a ServiceEntry host (lower case), or undefined. */
  addressesOf(host: string): string[] | undefined {
    return this.#byHost.get(host);
  }

  /** ServiceEntry addresses and CIDRs outbound capture must cover (the VIP range aside). */
  cidrs(): string[] {
    const cidrs = this.#entries.flatMap((e) => e.addresses).map((a) => (a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`));
    return [...new Set(cidrs)].sort();
  }
}
