/**
 * ServiceEntries as the daemon routes them, with Istio's semantics: the hosts
 * and the addresses callers reach them by (given, or allocated by `ambit
 * apply`), the ports, and the endpoints behind each port: `endpoints[]`, or the
 * WorkloadEntries and enrolled workloads `workloadSelector` picks in the entry's
 * namespace, or (resolution DNS) the host itself, resolved when a connection
 * comes. Pure: compiled once per snapshot from the typed resources (validated by
 * their kind's schema, so no field is guessed at here).
 */
import { isIP } from 'node:net';
import type { ServiceEntrySpec, TypedResource, WorkloadEntrySpec } from '../config/index.js';
import { allocatedAddresses } from '../config/service-entry-addresses.js';
import type { EndpointRecord } from '../store/types.js';

export type Location = NonNullable<ServiceEntrySpec['location']>;
export type Resolution = NonNullable<ServiceEntrySpec['resolution']>;

export interface EntryPort {
  number: number;
  name?: string;
  targetPort?: number;
}

/** One workload behind the entry, before its port is known. */
export interface EntryWorkload {
  /** An IP, or under resolution DNS possibly a host name. */
  address: string;
  /** Port name -> port, as WorkloadEntry writes it. */
  ports?: Record<string, number>;
  serviceAccount?: string;
  labels: Record<string, string>;
}

export interface ServiceEntryView {
  name: string;
  namespace: string;
  /** Lower case, as the DNS server asks. */
  hosts: string[];
  location: Location;
  resolution: Resolution;
  ports: EntryPort[];
  workloads: EntryWorkload[];
  /** What DNS answers for each non-wildcard host: the given IPs, else the allocated VIP. */
  dnsAddresses: Map<string, string[]>;
  /** Every IP or CIDR a connection to this entry may be addressed to (to capture and route). */
  addresses: string[];
}

/** One place a connection to the entry may go, for one port. */
export interface EntryCandidate {
  address: string;
  port: number;
  /** A host name to resolve with the host resolver when the connection comes. */
  resolve: boolean;
  serviceAccount?: string;
  labels: Record<string, string>;
}

/** Builds the views; `enrolled` are the registry's endpoints, which a workloadSelector may pick too. */
export function compileServiceEntries(
  entries: readonly TypedResource<'ServiceEntry'>[],
  workloadEntries: readonly TypedResource<'WorkloadEntry'>[],
  enrolled: readonly EndpointRecord[],
): ServiceEntryView[] {
  return entries.map((r) => compileEntry(r, workloadEntries, enrolled));
}

function compileEntry(
  r: TypedResource<'ServiceEntry'>,
  workloadEntries: readonly TypedResource<'WorkloadEntry'>[],
  enrolled: readonly EndpointRecord[],
): ServiceEntryView {
  const { spec } = r;
  const namespace = r.metadata.namespace;
  const hosts = spec.hosts.map((h) => h.toLowerCase());
  const given = spec.addresses ?? [];
  const allocated = allocatedAddresses(r);
  const dnsAddresses = new Map<string, string[]>();
  for (const host of hosts) {
    if (host.includes('*')) continue;
    // CIDRs route but cannot be an A record; a /32 (or /128) is one address.
    const ips =
      given.length > 0 ? given.map(hostRoute).filter((a): a is string => a !== undefined) : [allocated.get(host)].filter((a): a is string => a !== undefined);
    if (ips.length > 0) dnsAddresses.set(host, ips);
  }
  const selector = spec.workloadSelector?.labels;
  const workloads = spec.workloadSelector
    ? [
        ...workloadEntries
          .filter((we) => we.metadata.namespace === namespace)
          .map((we) => workloadOf(we.spec, we.metadata.labels))
          .filter((w) => selects(selector ?? {}, w.labels)),
        ...enrolled
          .filter((ep) => ep.namespace === namespace && selects(selector ?? {}, ep.labels))
          .map((ep): EntryWorkload => ({ address: ep.address, serviceAccount: ep.serviceAccount, labels: ep.labels })),
      ]
    : (spec.endpoints ?? []).map((w) => workloadOf(w, undefined));
  return {
    name: r.metadata.name,
    namespace,
    hosts,
    // Unset is MESH_EXTERNAL and NONE, Istio's defaults.
    location: spec.location ?? 'MESH_EXTERNAL',
    resolution: spec.resolution ?? 'NONE',
    ports: (spec.ports ?? []).map((p) => ({
      number: p.number,
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    })),
    workloads: workloads.filter((w) => w.address !== ''),
    dnsAddresses,
    addresses: given.length > 0 ? given : [...new Set([...allocated.values()])],
  };
}

/** The entry's port a connection to `port` uses; an entry without ports takes any, unchanged. */
export function entryPort(view: ServiceEntryView, port: number): EntryPort | undefined {
  if (view.ports.length === 0) return { number: port };
  return view.ports.find((p) => p.number === port);
}

/**
 * Where a connection to `host` on `port` may go: for STATIC the workloads with an
 * IP, for DNS the workloads (host names resolved later) or, with none, the host
 * itself. The workload port is its `ports[name]`, else `targetPort`, else the
 * port number, as Istio picks it. Resolution NONE has no candidates: the caller
 * goes to the original destination.
 */
export function entryCandidates(view: ServiceEntryView, host: string, port: EntryPort): EntryCandidate[] {
  const fallback = port.targetPort ?? port.number;
  const portOfWorkload = (w: EntryWorkload) => (port.name !== undefined ? w.ports?.[port.name] : undefined) ?? fallback;
  const candidate = (w: EntryWorkload): EntryCandidate => ({
    address: w.address,
    port: portOfWorkload(w),
    resolve: isIP(w.address) === 0,
    ...(w.serviceAccount !== undefined ? { serviceAccount: w.serviceAccount } : {}),
    labels: w.labels,
  });
  switch (view.resolution) {
    case 'NONE':
      return [];
    case 'STATIC':
      return view.workloads.filter((w) => isIP(w.address) !== 0).map(candidate);
    case 'DNS':
      if (view.workloads.length > 0) return view.workloads.map(candidate);
      return host.includes('*') ? [] : [{ address: host, port: fallback, resolve: true, labels: {} }];
  }
}

function workloadOf(w: WorkloadEntrySpec, metadataLabels: Record<string, string> | undefined): EntryWorkload {
  return {
    address: w.address ?? '',
    ...(w.ports ? { ports: w.ports } : {}),
    ...(w.serviceAccount !== undefined ? { serviceAccount: w.serviceAccount } : {}),
    // A WorkloadEntry's own labels are in spec; Istio also lets metadata labels select it.
    labels: { ...(metadataLabels ?? {}), ...(w.labels ?? {}) },
  };
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function hostRoute(cidrOrIp: string): string | undefined {
  const [ip, bits] = cidrOrIp.split('/');
  if (!ip) return undefined;
  if (bits === undefined) return ip;
  return (isIP(ip) === 4 && bits === '32') || (isIP(ip) === 6 && bits === '128') ? ip : undefined;
}
