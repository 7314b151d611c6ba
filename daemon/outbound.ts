/**
 * Outbound (port 15001): connections iptables captured from enrolled users.
 * For each: read the original destination from the kernel, find the source
 * workload by the uid owning the client socket, pick the destination endpoint
 * (a VIP is load-balanced over its endpoints), then tunnel over HBONE to the
 * peer node with the source workload's certificate. Endpoints on this node are
 * authorized here and spliced directly; destinations outside the mesh pass
 * through untouched.
 */
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { splice, type HboneClient } from '../core/hbone/index.js';
import { originalDst } from '../core/net/original-dst.js';
import type { EndpointRecord } from '../core/store/types.js';
import { nodeId } from '../core/identity/index.js';
import { authorizeL4 } from './authorize.js';
import { keyOf, type RoundRobinBalancer } from './balancer.js';
import type { DaemonMetrics } from './metrics.js';
import { socketOwnerUid } from './socket-owner.js';
import { addressKey, type MeshState } from './state.js';
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
}

interface Target {
  endpoint: EndpointRecord;
  service?: string;
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
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.#sockets.size > 0 && deadlineMs > 0) {
      const until = Date.now() + deadlineMs;
      while (this.#sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of this.#sockets) s.destroy();
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
      const uid = await socketOwnerUid(socket.remoteAddress ?? '', socket.remotePort ?? 0).catch(() => undefined);
      const source = uid === undefined ? undefined : state.workloadForUid(uid);
      const target = this.#target(state, dst.address, dst.port);
      if (!source || !target) {
        this.#passthrough(socket, dst.address, dst.port);
        return;
      }
      await this.#forward(socket, state, source, target, dst.address);
    } catch (err) {
      metrics.connectFailures.inc({ direction: 'outbound', reason: (err as { code?: string }).code ?? 'ERROR' });
      log.warn({ err, client: `${socket.remoteAddress}:${socket.remotePort}` }, 'outbound connection failed');
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }

  #target(state: MeshState, ip: string, port: number): Target | undefined {
    const service = state.serviceByVip(ip);
    if (service) {
      const endpoints = service.endpoints.filter((ep) => ep.port === port);
      const endpoint = this.#options.balancer.pick(service.fqdn, endpoints);
      return endpoint ? { endpoint, service: service.fqdn } : undefined;
    }
    const endpoint = state.endpointAt(ip, port);
    return endpoint ? { endpoint } : undefined;
  }

  async #forward(socket: Socket, state: MeshState, source: EndpointRecord, first: Target, dstIp: string): Promise<void> {
    const { balancer, metrics, log } = this.#options;
    const sourceId = state.identityOf(source);
    const tried = new Set<string>();
    let target: Target | undefined = first;
    const maxAttempts = this.#options.maxAttempts ?? 3;
    for (let attempt = 1; target; attempt++) {
      const ep: EndpointRecord = target.endpoint;
      tried.add(keyOf(ep));
      const labels = {
        reporter: 'source',
        source_principal: sourceId,
        destination_principal: state.identityOf(ep),
        destination_service: target.service ?? `${ep.service}.${ep.namespace}`,
        connection_security_policy: 'mutual_tls',
      };
      try {
        if (state.isLocal(ep)) await this.#local(socket, state, ep, sourceId, labels);
        else await this.#tunnel(socket, state, ep, sourceId, labels);
        balancer.succeeded(ep);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERROR';
        const retryable = code === 'EHBONE_UPSTREAM_UNAVAILABLE' || code === 'EHBONE_PEER_UNREACHABLE' || code === 'ECONNREFUSED';
        metrics.connectFailures.inc({ direction: 'outbound', reason: code });
        if (!retryable || !target.service || attempt >= maxAttempts) throw err;
        balancer.failed(ep);
        log.info({ endpoint: keyOf(ep), service: target.service, code }, 'endpoint refused; trying another');
        const service = state.serviceByVip(dstIp);
        const next: EndpointRecord | undefined = service && balancer.pick(service.fqdn, service.endpoints.filter((e) => e.port === ep.port), tried);
        target = next ? { endpoint: next, service: target.service } : undefined;
        if (!target) throw err;
      }
    }
  }

  async #tunnel(socket: Socket, state: MeshState, ep: EndpointRecord, sourceId: string, labels: Record<string, string>): Promise<void> {
    const { hbone, metrics, log } = this.#options;
    const peer = state.peerFor(ep);
    const stream = await hbone.connect({
      peer: { host: peer.host, port: peer.port },
      authority: addressKey(ep.address, ep.port),
      source: sourceId,
      expectedServerIdentity: nodeId(this.#options.trustDomain, peer.node).uri,
    });
    metrics.connectionsOpened.inc(labels);
    const started = Date.now();
    socket.resume();
    splice(stream, socket, (result) => {
      metrics.connectionsClosed.inc(labels);
      metrics.bytesSent.inc(labels, result.bytesFromSocket);
      metrics.bytesReceived.inc(labels, result.bytesToSocket);
      log.info({ src: sourceId, dst: labels.destination_principal, endpoint: keyOf(ep), node: peer.node, sent: result.bytesFromSocket, received: result.bytesToSocket, durationMs: Date.now() - started, error: result.error?.code }, 'outbound connection closed');
    });
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
    const upstream = await dial(ep.address, ep.port);
    metrics.connectionsOpened.inc(labels);
    const started = Date.now();
    socket.resume();
    spliceSockets(socket, upstream, (result) => {
      metrics.connectionsClosed.inc(labels);
      metrics.bytesSent.inc(labels, result.aToB);
      metrics.bytesReceived.inc(labels, result.bToA);
      log.info({ src: sourceId, dst: labels.destination_principal, endpoint: keyOf(ep), node: 'local', sent: result.aToB, received: result.bToA, durationMs: Date.now() - started, error: result.error }, 'outbound connection closed');
    });
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
