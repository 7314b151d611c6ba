/**
 * ServiceEntries as the daemon routes them, with Istio's semantics: the hosts
 * and the addresses callers reach them by (given, or allocated by `ambit
 * apply`), the ports, and the endpoints behind each port: `endpoints[]`, or the
 * WorkloadEntries and enrolled workloads `workloadSelector` picks in the entry's
 * namespace, or (resolution DNS) the host itself, resolved when a connection
 * comes. Pure: compiled once per snapshot from plain records.
 */
import { isIP } from 'node:net';
import type { Resource } from '../core/config/resource.js';
import { allocatedAddresses } from '../core/config/service-entry-addresses.js';
import type { EndpointRecord } from '../core/store/types.js';

export type Location = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type Resolution = 'NONE' | 'STATIC' | 'DNS';

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

interface RawWorkload {
  address?: unknown;
  ports?: unknown;
  serviceAccount?: unknown;
  labels?: unknown;
}

interface RawEntry {
  hosts?: unknown;
  addresses?: unknown;
  ports?: unknown;
  location?: unknown;
  resolution?: unknown;
  endpoints?: unknown;
  workloadSelector?: { labels?: unknown };
}

/** Builds the views; `enrolled` are the registry's endpoints, which a workloadSelector may pick too. */
export function compileServiceEntries(resources: readonly Resource[], enrolled: readonly EndpointRecord[]): ServiceEntryView[] {
  const workloadEntries = resources.filter((r) => r.kind === 'WorkloadEntry');
  return resources
    .filter((r) => r.kind === 'ServiceEntry')
    .map((r) => compileEntry(r, workloadEntries, enrolled));
}

function compileEntry(r: Resource, workloadEntries: readonly Resource[], enrolled: readonly EndpointRecord[]): ServiceEntryView {
  const spec = r.spec as RawEntry;
  const namespace = r.metadata.namespace;
  const hosts = strings(spec.hosts).map((h) => h.toLowerCase());
  const given = strings(spec.addresses);
  const allocated = allocatedAddresses(r);
  const dnsAddresses = new Map<string, string[]>();
  for (const host of hosts) {
    if (host.includes('*')) continue;
    // CIDRs route but cannot be an A record; a /32 (or /128) is one address.
    const ips = given.length > 0 ? given.map(hostRoute).filter((a): a is string => a !== undefined) : [allocated.get(host)].filter((a): a is string => a !== undefined);
    if (ips.length > 0) dnsAddresses.set(host, ips);
  }
  const selector = spec.workloadSelector ? labelsOf(spec.workloadSelector.labels) : undefined;
  const workloads = selector
    ? [
        ...workloadEntries.filter((we) => we.metadata.namespace === namespace && selects(selector, workloadOf(we.spec as RawWorkload, we.metadata.labels).labels)).map((we) => workloadOf(we.spec as RawWorkload, we.metadata.labels)),
        ...enrolled.filter((ep) => ep.namespace === namespace && selects(selector, ep.labels)).map((ep): EntryWorkload => ({ address: ep.address, serviceAccount: ep.serviceAccount, labels: ep.labels })),
      ]
    : (Array.isArray(spec.endpoints) ? (spec.endpoints as RawWorkload[]) : []).map((w) => workloadOf(w, undefined));
  return {
    name: r.metadata.name,
    namespace,
    hosts,
    location: spec.location === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL',
    resolution: resolutionOf(spec.resolution),
    ports: (Array.isArray(spec.ports) ? (spec.ports as Record<string, unknown>[]) : []).map(portOf),
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

function workloadOf(w: RawWorkload, metadataLabels: Record<string, string> | undefined): EntryWorkload {
  const ports = typeof w.ports === 'object' && w.ports !== null ? (w.ports as Record<string, number>) : undefined;
  return {
    address: typeof w.address === 'string' ? w.address : '',
    ...(ports ? { ports } : {}),
    ...(typeof w.serviceAccount === 'string' ? { serviceAccount: w.serviceAccount } : {}),
    // A WorkloadEntry's own labels are in spec; Istio also lets metadata labels select it.
    labels: { ...(metadataLabels ?? {}), ...labelsOf(w.labels) },
  };
}

function portOf(p: Record<string, unknown>): EntryPort {
  return {
    number: Number(p.number),
    ...(typeof p.name === 'string' ? { name: p.name } : {}),
    ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
  };
}

function resolutionOf(v: unknown): Resolution {
  if (v === 'STATIC' || v === 'DNS') return v;
  // DNS_ROUND_ROBIN differs from DNS only in which resolved address Envoy keeps; at L4 it is DNS.
  if (v === 'DNS_ROUND_ROBIN') return 'DNS';
  return 'NONE';
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

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

function labelsOf(v: unknown): Record<string, string> {
  return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
}
