/**
 * Outbound (port 15001): connections iptables captured from enrolled users.
 * For each: read the original destination from the kernel, find the source
 * workload by the uid owning the client socket, pick the destination endpoint
 * (a VIP is load-balanced over its endpoints), then tunnel over HBONE to the
 * peer node with the source workload's certificate. Endpoints on this node are
 * authorized here and spliced directly; destinations outside the mesh pass
 * through untouched. ServiceEntry addresses go to the entry's endpoints: mesh
 * workloads over HBONE, MESH_EXTERNAL (and non-mesh) ones as plain TCP.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { splice, type HboneClient } from '../core/hbone/index.js';
import { originalDst } from '../core/net/original-dst.js';
import type { EndpointRecord } from '../core/store/types.js';
import { nodeId } from '../core/identity/index.js';
import { AmbitError } from '../core/errors.js';
import { authorizeL4 } from './authorize.js';
import { keyOf, type RoundRobinBalancer } from './balancer.js';
import type { DaemonMetrics } from './metrics.js';
import { capturedSocketOwnerUid } from './socket-owner.js';
import { formatAuthority } from '../core/hbone/authority.js';
import type { MeshState, ServiceEntryView } from '../core/mesh/index.js';
import { spliceSockets } from './tcp-splice.js';

export interface OutboundOptions {
  state: () => MeshState;
  hbone: HboneClient;
  balancer: RoundRobinBalancer;
  metrics: DaemonMetrics;
  log: Logger;
  trustDomain: string;
  /** The listener's own port: an original destination equal to it means "not captured". */
  port: number;
  /** How many endpoints of a VIP to try before giving up on a connection. */
  maxAttempts?: number;
  /** The host resolver, for ServiceEntries with resolution DNS (default: getaddrinfo). */
  lookup?: (host: string) => Promise<string[]>;
}

const RETRYABLE = new Set(['EHBONE_UPSTREAM_UNAVAILABLE', 'EHBONE_PEER_UNREACHABLE', 'ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EOUTBOUND_UNRESOLVED']);

/** One place a connection may go. */
interface Hop {
  address: string;
  port: number;
  /** A mesh workload: HBONE to its node, or the same-node shortcut. */
  workload?: EndpointRecord;
  /** A host name to resolve first (ServiceEntry resolution DNS). */
  resolve?: boolean;
  /** The service's waypoint: HBONE straight to it, asking for the original VIP:port. */
  waypoint?: { endpoint: EndpointRecord; authority: string };
}

/** Where a captured connection goes: one or more hops, and what to call the destination. */
interface Route {
  /** Balancer key when there is a choice of hops (a VIP, a ServiceEntry port); retries need one. */
  balanceKey?: string;
  hops: Hop[];
  destinationService: string;
  /** The ServiceEntry a DNS-resolved hop is classified against once it has an address. */
  entry?: ServiceEntryView;
}

export class Outbound {
  readonly #options: OutboundOptions;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  constructor(options: OutboundOptions) {
    this.#options = options;
  }

  /** Listens on IPv4 and, where the host has it, IPv6 (ip6tables REDIRECT delivers to ::1). */
  async listen(hosts: string[] = ['0.0.0.0', '::']): Promise<void> {
    for (const host of hosts) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => void this.#handle(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: this.#options.port, host, ipv6Only: host === '::' }, () => resolve());
        });
        this.#servers.push(server);
      } catch (err) {
        if (host === '::' && (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') continue;
        throw err;
      }
    }
  }

  /** Stops accepting; open connections finish unless `deadline` passes. */
  async close(deadlineMs = 0): Promise<void> {
    // server.close() calls back only once every connection has closed: awaited first, one
    // connection that never ends (a half-closed one, say) held stop() past any deadline.
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.#sockets.size > 0 && deadlineMs > 0) {
      const until = Date.now() + deadlineMs;
      while (this.#sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  get activeConnections(): number {
    return this.#sockets.size;
  }

  async #handle(socket: Socket): Promise<void> {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined); // reported where the splice ends
    const { log, metrics } = this.#options;
    try {
      const dst = originalDst(socket);
      if (dst.port === this.#options.port && (dst.address === socket.localAddress || dst.address.endsWith(`:${socket.localAddress}`))) {
        // Someone dialled 15001 directly: nothing was captured, and tunnelling would loop.
        socket.destroy();
        return;
      }
      const state = this.#options.state();
      const route = this.#route(state, dst.address, dst.port);
      const uid = await capturedSocketOwnerUid(
        { client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 } },
        dst,
      ).catch((err: unknown) => {
        // Dialling a mesh VIP as ambitd cannot work (nothing routes it): fail this connection loudly instead.
        if (route) throw err;
        return undefined;
      });
      const source = uid === undefined ? undefined : state.workloadForUid(uid);
      if (!source || !route) {
        this.#passthrough(socket, dst.address, dst.port);
        return;
      }
      await this.#forward(socket, state, source, route);
    } catch (err) {
      metrics.connectFailures.inc({ direction: 'outbound', reason: (err as { code?: string }).code ?? 'ERROR' });
      log.warn({ err, client: `${socket.remoteAddress}:${socket.remotePort}` }, 'outbound connection failed');
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }

  #route(state: MeshState, ip: string, port: number): Route | undefined {
    const service = state.serviceByVip(ip);
    if (service) {
      const waypoints = state.waypointsFor(service);
      if (waypoints.length > 0 && service.record.ports.includes(port)) {
        const authority = formatAuthority(ip, port);
        const hops = waypoints.map((w) => ({ address: w.endpoint.address, port: w.endpoint.port, waypoint: { endpoint: w.endpoint, authority } }));
        return { balanceKey: `${service.fqdn}/waypoint`, hops, destinationService: service.fqdn };
      }
      const hops = service.endpoints.filter((ep) => ep.port === port).map((ep) => ({ address: ep.address, port: ep.port, workload: ep }));
      return hops.length > 0 ? { balanceKey: service.fqdn, hops, destinationService: service.fqdn } : undefined;
    }
    const entry = state.serviceEntryAt(ip, port);
    if (entry) {
      // Resolution NONE: the caller already chose the address; go there (over HBONE if it is a mesh workload).
      if (entry.candidates.length === 0) return { hops: [state.classify(entry.entry, { address: ip, port, resolve: false, labels: {} })], destinationService: entry.host };
      return { balanceKey: entry.key, hops: entry.candidates, destinationService: entry.host, entry: entry.entry };
    }
    const endpoint = state.endpointAt(ip, port);
    return endpoint ? { hops: [{ address: ip, port, workload: endpoint }], destinationService: `${endpoint.service}.${endpoint.namespace}` } : undefined;
  }

  async #forward(socket: Socket, state: MeshState, source: EndpointRecord, route: Route): Promise<void> {
    const { balancer, metrics, log } = this.#options;
    const sourceId = state.identityOf(source);
    const tried = new Set<string>();
    const maxAttempts = this.#options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const hop = route.balanceKey ? balancer.pick(route.balanceKey, route.hops, tried) : route.hops[0];
      if (!hop) throw new AmbitError('EOUTBOUND_NO_ENDPOINT', `no endpoint left for ${route.destinationService}`, { service: route.destinationService });
      tried.add(keyOf(hop));
      try {
        await this.#connectHop(socket, state, sourceId, route, hop);
        balancer.succeeded(hop);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERROR';
        metrics.connectFailures.inc({ direction: 'outbound', reason: code });
        if (!RETRYABLE.has(code)) throw err;
        // A refused connect is evidence against the endpoint whether or not this connection retries.
        balancer.failed(hop);
        if (!route.balanceKey || attempt >= maxAttempts || tried.size >= route.hops.length) throw err;
        log.info({ endpoint: keyOf(hop), service: route.destinationService, code }, 'endpoint refused; trying another');
      }
    }
  }

  async #connectHop(socket: Socket, state: MeshState, sourceId: string, route: Route, first: Hop): Promise<void> {
    let hop = first;
    if (hop.resolve) {
      const [ip] = await this.#lookup(hop.address);
      if (!ip) throw new AmbitError('EOUTBOUND_UNRESOLVED', `${hop.address} resolved to no address`, { host: hop.address });
      hop = route.entry ? state.classify(route.entry, { address: ip, port: hop.port, resolve: false, labels: {} }) : { address: ip, port: hop.port };
    }
    if (hop.waypoint) return this.#toWaypoint(socket, state, sourceId, route, hop.waypoint);
    const ep = hop.workload;
    const labels = {
      reporter: 'source',
      source_principal: sourceId,
      destination_principal: ep ? state.identityOf(ep) : 'unknown',
      destination_service: route.destinationService,
      connection_security_policy: ep ? 'mutual_tls' : 'none',
    };
    if (!ep) await this.#plain(socket, hop, sourceId, labels);
    else if (state.isLocal(ep)) await this.#local(socket, state, ep, sourceId, labels);
    else await this.#tunnel(socket, state, ep, sourceId, labels);
  }

  #lookup(host: string): Promise<string[]> {
    if (this.#options.lookup) return this.#options.lookup(host);
    return dnsLookup(host, { all: true }).then((all) => all.map((a) => a.address));
  }

  /** A destination outside the mesh (MESH_EXTERNAL, or not a mesh workload): plain TCP from the daemon. */
  async #plain(socket: Socket, hop: Hop, sourceId: string, labels: Record<string, string>): Promise<void> {
    this.#spliceDirect(socket, await dial(hop.address, hop.port), labels, { src: sourceId, dst: labels.destination_service, endpoint: keyOf(hop), node: 'external' });
  }

  /** Splices a directly dialled upstream (no tunnel), counting and logging it like a tunnelled one. */
  #spliceDirect(socket: Socket, upstream: Socket, labels: Record<string, string>, fields: Record<string, unknown>): void {
    const closed = this.#opened(labels, fields);
    socket.resume();
    spliceSockets(socket, upstream, (r) => closed(r.aToB, r.bToA, r.error));
  }

  /** Counts a connection as opened; the returned callback counts and logs its close. One accounting for every kind of hop. */
  #opened(labels: Record<string, string>, fields: Record<string, unknown>): (sent: number, received: number, error: unknown) => void {
    const { metrics, log } = this.#options;
    metrics.connectionsOpened.inc(labels);
    const started = Date.now();
    return (sent, received, error) => {
      metrics.connectionsClosed.inc(labels);
      metrics.bytesSent.inc(labels, sent);
      metrics.bytesReceived.inc(labels, received);
      log.info({ ...fields, sent, received, durationMs: Date.now() - started, error }, 'outbound connection closed');
    };
  }

  async #tunnel(socket: Socket, state: MeshState, ep: EndpointRecord, sourceId: string, labels: Record<string, string>): Promise<void> {
    const peer = state.peerFor(ep);
    await this.#spliceTunnel(socket, {
      peer: { host: peer.host, port: peer.port },
      authority: formatAuthority(ep.address, ep.port),
      source: sourceId,
      expectedServerIdentity: nodeId(this.#options.trustDomain, peer.node).uri,
    }, labels, { endpoint: keyOf(ep), node: peer.node });
  }

  /**
   * A service with a waypoint: the waypoint terminates HBONE itself (as its own
   * identity, which the client checks) and picks the endpoint, so the tunnel asks
   * for the VIP the application dialled, not an endpoint.
   */
  async #toWaypoint(socket: Socket, state: MeshState, sourceId: string, route: Route, w: NonNullable<Hop['waypoint']>): Promise<void> {
    const identity = state.identityOf(w.endpoint);
    const labels = { reporter: 'source', source_principal: sourceId, destination_principal: identity, destination_service: route.destinationService, connection_security_policy: 'mutual_tls' };
    await this.#spliceTunnel(socket, {
      peer: { host: w.endpoint.address, port: w.endpoint.port },
      authority: w.authority,
      source: sourceId,
      expectedServerIdentity: identity,
    }, labels, { endpoint: w.authority, node: w.endpoint.node, waypoint: keyOf(w.endpoint) });
  }

  async #spliceTunnel(socket: Socket, request: Parameters<HboneClient['connect']>[0], labels: Record<string, string>, fields: Record<string, unknown>): Promise<void> {
    const stream = await this.#options.hbone.connect(request);
    const closed = this.#opened(labels, { src: request.source, dst: labels.destination_principal, ...fields });
    socket.resume();
    splice(stream, socket, (r) => closed(r.bytesFromSocket, r.bytesToSocket, r.error?.code));
  }

  async #local(socket: Socket, state: MeshState, ep: EndpointRecord, sourceId: string, labels: Record<string, string>): Promise<void> {
    const { metrics, log } = this.#options;
    const decision = authorizeL4(state, ep, { identity: sourceId, ip: socket.remoteAddress ?? '' }, ep.address);
    if (!decision.allowed) {
      metrics.authzDenials.inc({ destination_service: labels.destination_service ?? '', source_principal: sourceId, policy: decision.policy ?? '', reason: 'policy' });
      log.warn({ src: sourceId, endpoint: keyOf(ep), policy: decision.policy, reason: decision.reason }, 'connection denied by AuthorizationPolicy');
      socket.resetAndDestroy();
      return;
    }
    this.#spliceDirect(socket, await dial(ep.address, ep.port), labels, { src: sourceId, dst: labels.destination_principal, endpoint: keyOf(ep), node: 'local' });
  }

  /** Not a mesh destination, or not an enrolled user: connect as asked, as the daemon. */
  #passthrough(socket: Socket, ip: string, port: number): void {
    dial(ip, port).then(
      (upstream) => {
        socket.resume();
        spliceSockets(socket, upstream);
      },
      () => socket.resetAndDestroy(),
    );
  }
}

function dial(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
