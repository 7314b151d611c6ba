/**
 * Where a captured connection goes, decided without I/O. daemon/outbound.ts
 * asks the kernel for the original destination and the client socket's owner,
 * asks here, and only then dials; as ztunnel's `build_request`, the decision is
 * a plain value, so every outcome (a VIP's endpoints or its waypoint, the
 * same-node shortcut, a ServiceEntry's workloads, plain TCP, a host still to
 * resolve, passthrough, a refused client) is asserted by a table test instead
 * of through sockets. Load balancing stays outside: the balancer remembers
 * ejections across connections, so it picks among the hops a route lists.
 */
import { nodeId } from '../identity/index.js';
import type { EndpointRecord } from '../store/types.js';
import { formatAuthority } from '../hbone/authority.js';
import { serviceRef, type MeshState } from './state.js';
import type { ServiceEntryView } from './service-entries.js';
import type { ServiceRef } from './services.js';

/** Who owns the client socket: its uid, or the error saying why the kernel could not tell. */
export type Owner = { uid: number } | { error: unknown };

/** What the kernel says about one captured connection. */
export interface Captured {
  /** The original destination (SO_ORIGINAL_DST). */
  destination: { address: string; port: number };
  owner: Owner;
}

/** A mesh workload on another node: HBONE to its node's daemon, which must prove that node's identity. */
export interface HboneHop {
  kind: 'hbone';
  address: string;
  port: number;
  endpoint: EndpointRecord;
  identity: string;
  peer: { host: string; port: number; node: string };
  peerIdentity: string;
}

/** A mesh workload on this node: authorized here and dialled directly, since a tunnel to ourselves adds nothing. */
export interface LocalHop {
  kind: 'local';
  address: string;
  port: number;
  endpoint: EndpointRecord;
  identity: string;
}

/**
 * The service's waypoint: it terminates HBONE as its own identity and picks the
 * endpoint itself, so the tunnel asks for the VIP:port the application dialled.
 */
export interface WaypointHop {
  kind: 'waypoint';
  address: string;
  port: number;
  endpoint: EndpointRecord;
  identity: string;
  authority: string;
}

/** Outside the mesh (MESH_EXTERNAL, or no mesh workload at that address): plain TCP from the daemon. */
export interface TcpHop {
  kind: 'tcp';
  address: string;
  port: number;
}

/**
 * A ServiceEntry host name (resolution DNS): only the resolved address says
 * whether it is a mesh workload, so `resolvedHop` classifies it then. The name,
 * not the address, is what the balancer keys it by.
 */
export interface ResolveHop {
  kind: 'resolve';
  address: string;
  port: number;
  entry: ServiceEntryView;
}

/** A hop with an address to dial. */
export type DialHop = HboneHop | LocalHop | WaypointHop | TcpHop;

/** One place a connection may go; `address`:`port` is what the balancer picks, keys and ejects. */
export type Hop = DialHop | ResolveHop;

export interface ForwardRoute {
  kind: 'forward';
  /** The source workload's SPIFFE ID: the certificate tunnels present, the principal metrics name. */
  sourceIdentity: string;
  /** The enrolled workload of the uid that opened the connection (metrics' source_*). */
  source: EndpointRecord;
  /** What the connection was addressed to: a VIP's service, a ServiceEntry host, an endpoint's service. */
  service: ServiceRef;
  /** Balancer key when there is a choice of hops (a VIP, a ServiceEntry port); retries need one. */
  balanceKey?: string;
  hops: Hop[];
}

export type Route =
  | ForwardRoute
  /** Not a mesh destination, or not an enrolled client: connect as asked, as the daemon. */
  | { kind: 'passthrough' }
  /**
   * A mesh destination whose client the kernel cannot name: passing it through
   * as ambitd cannot work (nothing routes a VIP), so the connection fails loudly.
   */
  | { kind: 'refuse'; reason: 'owner-unknown'; cause: unknown };

type Destination = Omit<ForwardRoute, 'kind' | 'sourceIdentity' | 'source'>;

const PASSTHROUGH: Route = { kind: 'passthrough' };

/** The route of one captured connection; `trustDomain` names the peer nodes' identities. */
export function routeOf(state: MeshState, trustDomain: string, captured: Captured): Route {
  const destination = destinationOf(state, trustDomain, captured.destination.address, captured.destination.port);
  if (!destination) return PASSTHROUGH;
  if ('error' in captured.owner) return { kind: 'refuse', reason: 'owner-unknown', cause: captured.owner.error };
  const source = state.workloadForUid(captured.owner.uid);
  if (!source) return PASSTHROUGH;
  return { kind: 'forward', sourceIdentity: state.identityOf(source), source, ...destination };
}

/** Where a resolve hop goes once its host name resolved to `ip`. */
export function resolvedHop(state: MeshState, trustDomain: string, hop: ResolveHop, ip: string): DialHop {
  return addressHop(state, trustDomain, hop.entry, ip, hop.port);
}

function destinationOf(state: MeshState, trustDomain: string, ip: string, port: number): Destination | undefined {
  const service = state.serviceByVip(ip);
  if (service) {
    const waypoints = state.waypointsFor(service);
    if (waypoints.length > 0 && service.record.ports.includes(port)) {
      const authority = formatAuthority(ip, port);
      const hops = waypoints.map(({ endpoint }): WaypointHop => ({
        kind: 'waypoint',
        address: endpoint.address,
        port: endpoint.port,
        endpoint,
        identity: state.identityOf(endpoint),
        authority,
      }));
      return { balanceKey: `${service.fqdn}/waypoint`, hops, service: serviceRef(service) };
    }
    const hops = service.endpoints.filter((ep) => ep.port === port).map((ep) => workloadHop(state, trustDomain, ep));
    return hops.length > 0 ? { balanceKey: service.fqdn, hops, service: serviceRef(service) } : undefined;
  }
  const entry = state.serviceEntryAt(ip, port);
  if (entry) {
    const entryService: ServiceRef = { host: entry.host, name: entry.host, namespace: entry.entry.namespace };
    // Resolution NONE: the caller already chose the address; go there (over HBONE if it is a mesh workload).
    if (entry.candidates.length === 0) return { hops: [addressHop(state, trustDomain, entry.entry, ip, port)], service: entryService };
    const hops = entry.candidates.map((c): Hop => {
      if (c.resolve) return { kind: 'resolve', address: c.address, port: c.port, entry: entry.entry };
      return c.workload ? workloadHop(state, trustDomain, c.workload) : { kind: 'tcp', address: c.address, port: c.port };
    });
    return { balanceKey: entry.key, hops, service: entryService };
  }
  const endpoint = state.endpointAt(ip, port);
  return endpoint ? { hops: [workloadHop(state, trustDomain, endpoint)], service: state.serviceOfEndpoint(endpoint) } : undefined;
}

/** An address a ServiceEntry sends to: a mesh workload when `classify` says so, else plain TCP. */
function addressHop(state: MeshState, trustDomain: string, entry: ServiceEntryView, address: string, port: number): DialHop {
  const { workload } = state.classify(entry, { address, port, resolve: false, labels: {} });
  return workload ? workloadHop(state, trustDomain, workload) : { kind: 'tcp', address, port };
}

function workloadHop(state: MeshState, trustDomain: string, endpoint: EndpointRecord): HboneHop | LocalHop {
  const { address, port } = endpoint;
  const identity = state.identityOf(endpoint);
  if (state.isLocal(endpoint)) return { kind: 'local', address, port, endpoint, identity };
  const peer = state.peerFor(endpoint);
  return { kind: 'hbone', address, port, endpoint, identity, peer, peerIdentity: nodeId(trustDomain, peer.node).uri };
}
