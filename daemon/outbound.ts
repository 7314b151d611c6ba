/**
 * Outbound (port 15001): connections iptables captured from enrolled users.
 * For each: read the original destination from the kernel, find the source
 * workload by the uid owning the client socket, pick the destination endpoint
 * (a VIP is load-balanced over its endpoints), then tunnel over HBONE to the
 * peer node with the source workload's certificate. Endpoints on this node are
 * authorized here and spliced directly; destinations outside the mesh pass
 * through untouched. ServiceEntry addresses go to the entry's endpoints: mesh
 * workloads over HBONE, MESH_EXTERNAL (and non-mesh) ones as plain TCP.
 * Which of these a connection gets is core/mesh/hop.ts's decision; this file
 * does the I/O around it.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { splice, type HboneClient } from '../core/hbone/index.js';
import type { ListenTarget } from '../core/net/listen-target.js';
import { originalDst } from '../core/net/original-dst.js';
import { AmbitError } from '../core/errors.js';
import { authorizeL4, reportDenial } from './authorize.js';
import { keyOf, type RoundRobinBalancer } from './balancer.js';
import {
  resolvedHop,
  routeOf,
  type ForwardRoute,
  type HboneHop,
  type Hop,
  type LocalHop,
  type Owner,
  type TcpHop,
  type WaypointHop,
} from '../core/mesh/hop.js';
import type { MemoryRelease } from './memory-release.js';
import type { DaemonMetrics } from './metrics.js';
import { capturedSocketOwnerUid } from './socket-owner.js';
import type { MeshState } from '../core/mesh/index.js';
import { dialTcp } from './dial-tcp.js';
import { CapturedListener } from './captured-listener.js';
import { accountConnection, type ConnectionClosed } from './connection-account.js';
import { endTunnelSpan, tunnelAttributes, type TunnelTracing } from './tunnel-tracing.js';
import { tcpLabels, type TcpLabels } from '../core/telemetry/labels.js';
import { endpointParty } from '../core/telemetry/mesh-facts.js';
import type { CompiledTelemetry } from '../core/telemetry/compiled.js';
import { workloadTelemetry } from './workload-telemetry.js';
import { admitConnection } from './connection-admission.js';
import { ConnectionLimiter } from './connection-limiter.js';

/** What one connection reports with: its labels, and the source workload's Telemetry. */
interface Report {
  labels: TcpLabels;
  telemetry: CompiledTelemetry;
}

export interface OutboundOptions {
  state: () => MeshState;
  hbone: HboneClient;
  balancer: RoundRobinBalancer;
  metrics: DaemonMetrics;
  /** A span per tunnelled connection (tunnel-tracing.ts); none when absent or when tracing is off. */
  tracing?: TunnelTracing;
  /** Told of every closed connection, to give memory back after a burst (memory-release.ts). */
  memory?: MemoryRelease;
  /** ConnectionLimit's counts, shared with the inbound paths: the same-node shortcut is an inbound connection too. */
  limiter?: ConnectionLimiter;
  log: Logger;
  trustDomain: string;
  /** The listener's own port: an original destination equal to it means "not captured". */
  port: number;
  /** How many endpoints of a VIP to try before giving up on a connection. */
  maxAttempts?: number;
  /** The host resolver, for ServiceEntries with resolution DNS (default: getaddrinfo). */
  lookup?: (host: string) => Promise<string[]>;
}

const RETRYABLE = new Set([
  'EHBONE_UPSTREAM_UNAVAILABLE',
  'EHBONE_PEER_UNREACHABLE',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EOUTBOUND_UNRESOLVED',
]);

export class Outbound {
  readonly #options: OutboundOptions;
  readonly #limiter: ConnectionLimiter;
  readonly #listener: CapturedListener;

  constructor(options: OutboundOptions) {
    this.#options = options;
    this.#limiter = options.limiter ?? new ConnectionLimiter();
    this.#listener = new CapturedListener(options.port, (socket) => void this.#handle(socket));
  }

  /**
   * Listens on each target: the sockets systemd passed, or IPv4 and, where the
   * host has it, IPv6 (ip6tables REDIRECT delivers to ::1) bound here.
   */
  listen(targets?: ListenTarget[]): Promise<void> {
    return this.#listener.listen(targets, this.#options.log);
  }

  /** Stops accepting; open connections finish unless `deadline` passes. */
  close(deadlineMs = 0): Promise<void> {
    return this.#listener.close(deadlineMs);
  }

  get activeConnections(): number {
    return this.#listener.activeConnections;
  }

  async #handle(socket: Socket): Promise<void> {
    socket.on('error', () => undefined); // reported where the splice ends
    const { log, metrics } = this.#options;
    try {
      const dst = originalDst(socket);
      if (this.#listener.isDirect(socket, dst)) {
        // Someone dialled 15001 directly: nothing was captured, and tunnelling would loop.
        socket.destroy();
        return;
      }
      const state = this.#options.state();
      const owner = await capturedSocketOwnerUid(
        {
          client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
          local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
        },
        dst,
      ).then(
        (uid): Owner => ({ uid }),
        (error: unknown): Owner => ({ error }),
      );
      const route = routeOf(state, this.#options.trustDomain, { destination: dst, owner });
      switch (route.kind) {
        case 'passthrough':
          this.#passthrough(socket, dst.address, dst.port);
          return;
        case 'refuse':
          throw route.cause;
        case 'forward':
          await this.#forward(socket, state, route);
      }
    } catch (err) {
      metrics.connectFailures.inc({ direction: 'outbound', reason: (err as { code?: string }).code ?? 'ERROR' });
      log.warn({ err, client: `${socket.remoteAddress}:${socket.remotePort}` }, 'outbound connection failed');
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }

  async #forward(socket: Socket, state: MeshState, route: ForwardRoute): Promise<void> {
    const { balancer, metrics, log } = this.#options;
    const tried = new Set<string>();
    const maxAttempts = this.#options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const hop = route.balanceKey ? balancer.pick(route.balanceKey, route.hops, tried) : route.hops[0];
      if (!hop) throw new AmbitError('EOUTBOUND_NO_ENDPOINT', `no endpoint left for ${route.service.host}`, { service: route.service.host });
      tried.add(keyOf(hop));
      try {
        await this.#connectHop(socket, state, route, hop);
        balancer.succeeded(hop);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERROR';
        metrics.connectFailures.inc({ direction: 'outbound', reason: code });
        if (!RETRYABLE.has(code)) throw err;
        // A refused connect is evidence against the endpoint whether or not this connection retries.
        balancer.failed(hop);
        if (!route.balanceKey || attempt >= maxAttempts || tried.size >= route.hops.length) throw err;
        log.info({ endpoint: keyOf(hop), service: route.service.host, code }, 'endpoint refused; trying another');
      }
    }
  }

  async #connectHop(socket: Socket, state: MeshState, route: ForwardRoute, picked: Hop): Promise<void> {
    const hop = picked.kind === 'resolve' ? resolvedHop(state, this.#options.trustDomain, picked, await this.#resolve(picked.address)) : picked;
    const sourceId = route.sourceIdentity;
    // Built once: the close, the bytes and the open all count this one object.
    const labels = tcpLabels({
      reporter: 'source',
      source: endpointParty(state, route.source),
      destination: hop.kind === 'tcp' ? {} : endpointParty(state, hop.endpoint),
      service: route.service,
      securityPolicy: hop.kind === 'tcp' ? 'none' : 'mutual_tls',
    });
    // reporter="source": the source workload's Telemetry, as its sidecar would apply it.
    const report: Report = { labels, telemetry: workloadTelemetry(state, route.source) };
    switch (hop.kind) {
      case 'waypoint':
        return this.#toWaypoint(socket, hop, sourceId, report);
      case 'tcp':
        return this.#plain(socket, hop, sourceId, report);
      case 'local':
        return this.#local(socket, state, hop, sourceId, report);
      case 'hbone':
        return this.#tunnel(socket, hop, sourceId, report);
    }
  }

  /** The first address of a ServiceEntry host (resolution DNS), as getaddrinfo or the injected resolver gives it. */
  async #resolve(host: string): Promise<string> {
    const [ip] = await (this.#options.lookup ? this.#options.lookup(host) : dnsLookup(host, { all: true }).then((all) => all.map((a) => a.address)));
    if (!ip) throw new AmbitError('EOUTBOUND_UNRESOLVED', `${host} resolved to no address`, { host });
    return ip;
  }

  /** A destination outside the mesh (MESH_EXTERNAL, or not a mesh workload): plain TCP from the daemon. */
  async #plain(socket: Socket, hop: TcpHop, sourceId: string, report: Report): Promise<void> {
    this.#spliceDirect(socket, await dialTcp(hop.address, hop.port), report, false, {
      src: sourceId,
      dst: report.labels.destination_service,
      endpoint: keyOf(hop),
      node: 'external',
    });
  }

  /** Splices a directly dialled upstream (no tunnel), counting and logging it like a tunnelled one. */
  /** `ended`: told when the splice ends (a ConnectionLimit slot the connection held). */
  #spliceDirect(socket: Socket, upstream: Socket, report: Report, mtls: boolean, fields: Record<string, unknown>, ended?: () => void): void {
    const closed = this.#opened(report, mtls, fields);
    socket.resume();
    splice(socket, upstream, (r) => {
      ended?.();
      closed(r.aToB, r.bToA, r.error?.code);
    });
  }

  /** Counts a connection as opened; the returned callback counts and logs its close. One accounting for every kind of hop. */
  #opened(report: Report, mtls: boolean, fields: Record<string, unknown>, traceId?: string): ConnectionClosed {
    return accountConnection(this.#options, { ...report, mtls, fields, message: 'outbound connection closed', traceId });
  }

  async #tunnel(socket: Socket, hop: HboneHop, sourceId: string, report: Report): Promise<void> {
    await this.#spliceTunnel(
      socket,
      {
        peer: { host: hop.peer.host, port: hop.peer.port },
        authority: keyOf(hop),
        source: sourceId,
        expectedServerIdentity: hop.peerIdentity,
      },
      report,
      { endpoint: keyOf(hop), node: hop.peer.node },
    );
  }

  async #toWaypoint(socket: Socket, hop: WaypointHop, sourceId: string, report: Report): Promise<void> {
    await this.#spliceTunnel(
      socket,
      {
        peer: { host: hop.address, port: hop.port },
        authority: hop.authority,
        source: sourceId,
        expectedServerIdentity: hop.identity,
      },
      report,
      { endpoint: hop.authority, node: hop.endpoint.node, waypoint: keyOf(hop) },
    );
  }

  async #spliceTunnel(socket: Socket, request: Parameters<HboneClient['connect']>[0], report: Report, fields: Record<string, unknown>): Promise<void> {
    const { labels } = report;
    const span = this.#options.tracing?.outbound(() =>
      tunnelAttributes({
        source: request.source,
        destination: undefined,
        destinationPrincipal: labels.destination_principal,
        peer: `${request.peer.host}:${request.peer.port}`,
        authority: request.authority,
      }),
    );
    let stream: Awaited<ReturnType<HboneClient['connect']>>;
    try {
      // The span's context rides on the CONNECT, so the receiving daemon's span is its child.
      stream = await this.#options.hbone.connect(span ? { ...request, headers: { ...request.headers, ...span.headersFor(span.spanId) } } : request);
    } catch (err) {
      endTunnelSpan(span, { bytesToDestination: 0, bytesFromDestination: 0, errorType: (err as { code?: string }).code ?? 'ERROR' });
      throw err;
    }
    const closed = this.#opened(report, true, { src: request.source, dst: labels.destination_principal, ...fields }, span?.traceId);
    socket.resume();
    splice(stream, socket, (r) => {
      closed(r.bToA, r.aToB, r.error?.code);
      endTunnelSpan(span, {
        bytesToDestination: r.bToA,
        bytesFromDestination: r.aToB,
        ...(r.error?.code !== undefined ? { errorType: r.error.code } : {}),
      });
    });
  }

  async #local(socket: Socket, state: MeshState, hop: LocalHop, sourceId: string, report: Report): Promise<void> {
    const { metrics, log } = this.#options;
    const { labels } = report;
    const ep = hop.endpoint;
    const decision = authorizeL4(state, ep, { identity: sourceId, ip: socket.remoteAddress ?? '' }, ep.address);
    if (!decision.allowed) {
      reportDenial(metrics, log, { service: labels.destination_service, source: sourceId, decision, reason: 'policy' }, { endpoint: keyOf(ep) });
      socket.resetAndDestroy();
      return;
    }
    const fields = { src: sourceId, dst: labels.destination_principal, endpoint: keyOf(ep), node: 'local' };
    const admitted = admitConnection(
      { limiter: this.#limiter, metrics, log },
      state,
      ep,
      { identity: sourceId, ip: socket.remoteAddress ?? '' },
      'local',
      fields,
    );
    if (!admitted.admitted) return void socket.resetAndDestroy();
    // The same-node shortcut: mesh traffic that never leaves the host, reported as mutual TLS as a tunnel would be.
    let upstream: Socket;
    try {
      upstream = await dialTcp(ep.address, ep.port);
    } catch (err) {
      admitted.release();
      throw err;
    }
    this.#spliceDirect(socket, upstream, report, true, fields, admitted.release);
  }

  /** Not a mesh destination, or not an enrolled user: connect as asked, as the daemon. */
  #passthrough(socket: Socket, ip: string, port: number): void {
    dialTcp(ip, port).then(
      (upstream) => {
        socket.resume();
        splice(socket, upstream);
      },
      () => socket.resetAndDestroy(),
    );
  }
}
