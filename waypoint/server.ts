/**
 * ambit-waypoint's proxy: an HBONE server that terminates CONNECT streams
 * addressed to a served service's VIP, reads HTTP/1.1 or h2c from each
 * tunnel, and hands every request (and every HTTP/1.1 WebSocket upgrade) to
 * the Forwarder with the caller's verified identity. Upstream connections
 * are pooled per cluster (connection-pool.ts). Config snapshots swap
 * atomically (`update`); requests in flight finish on the snapshot they
 * started with, so a reload drops nothing. Peers on the operator-signed
 * revocation list (`applyRevocations`, from the accepted manifest) are
 * refused both ways: callers on the HBONE listener and the peer daemons it
 * dials, with ambitd's check (core/identity/revocation/peer-check.ts).
 */
import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HboneClient, HboneServer, type ConnectRequest, type HboneClientOptions, type TlsIdentity, type TunnelInfo } from '../core/hbone/index.js';
import { PeerRevocations } from '../core/identity/revocation/peer-check.js';
import type { RevocationList } from '../core/identity/revocation/list.js';
import { logger, type Logger } from '../core/logging.js';
import { DEFAULT_TELEMETRY, type TracingSettings } from '../core/telemetry/settings.js';
import { MeshTracer } from '../core/telemetry/tracing/tracer.js';
import { pinoAccessLog, type AccessLog } from './access-log.js';
import { requestTap } from './tap-filter.js';
import { Clusters } from './clusters.js';
import { WaypointConfig, type Upstream } from './config.js';
import type { Connector } from './connection-pool.js';
import { H1Connection } from './h1-connection.js';
import { H2Connection } from './h2-connection.js';
import type { Caller } from './caller.js';
import { Forwarder } from './forward.js';
import type { MeshView, ServiceView } from './mesh-view.js';
import { WaypointMetrics } from './metrics.js';
import { sniffProtocol } from './protocol.js';
import { asHttpSocket } from './stream-socket.js';
import { TcpProxy } from './tcp-proxy.js';
import { Upstreams } from './upstream.js';
import { Authenticators } from './authn/authenticators.js';
import { JwksCache } from './authn/jwks-cache.js';
import { OidcLogins } from './oidc/logins.js';
import type { Buckets } from './ratelimit/buckets.js';
import { RateLimiters } from './ratelimit/rate-limits.js';
import { tracingSettingsFor, type TracingSource } from './tracing-source.js';

export interface WaypointServerOptions {
  /** The waypoint's own certificate (`…/sa/<svc>-waypoint`), key and trust bundle. */
  identity: TlsIdentity;
  /** Its SPIFFE ID: the source identity of tunnels to endpoints. */
  principal: string;
  /** TLS material for outbound tunnels (the waypoint's identity, rotated as it renews). */
  getSecureContext: HboneClientOptions['getSecureContext'];
  /** FQDNs of the services this waypoint serves. */
  services: readonly string[];
  mesh: MeshView;
  domain?: string;
  trustDomain?: string;
  accessLog?: AccessLog;
  log?: Logger;
  /** Injectable for reproducible weighted picks and fault dice in tests. */
  rng?: () => number;
  retryBackOffMs?: number;
  /** Where global RateLimit buckets live (the store); without it global rules are kept per waypoint. */
  rateLimitStore?: Buckets;
  /**
   * How long a tunnel may stay silent before it is taken for a server-first
   * TCP protocol; 0 (the default, as Istio's) waits for the client's bytes.
   * Ports whose VirtualService has only tcp routes never wait.
   */
  protocolDetectionTimeoutMs?: number;
  /**
   * The settings file's tracing (default: off): applies until the store holds a
   * MeshConfig with a tracing provider, then the Telemetry API decides
   * (tracing-source.ts). `setFileTracing` replaces it live.
   */
  tracing?: TracingSettings;
  /** The resource's service.instance.id (default a UUID per process). */
  instanceId?: string;
}

interface TunnelContext {
  caller: Caller;
  service: ServiceView;
  port: number;
}

export class WaypointServer {
  readonly hbone: HboneServer;
  readonly metrics = new WaypointMetrics();
  /** Finished requests for `ambit tap` (served on the metrics port, admin-http.ts). */
  readonly tap = requestTap(this.metrics.tapDropped);
  /** The waypoint's spans; a Telemetry change reaches it as `tracer.update(settings)`. */
  readonly tracer: MeshTracer;
  readonly #options: WaypointServerOptions;
  readonly #log: Logger;
  readonly #client: HboneClient;
  readonly #revocations: PeerRevocations;
  readonly #forwarder: Forwarder;
  readonly #tcp: TcpProxy;
  readonly #clusters: Clusters;
  readonly #h1: Http1Server;
  readonly #h2: Http2Server;
  readonly #tunnels = new WeakMap<object, TunnelContext>();
  /** The HBONE server's TLS connections, so close() can cut those whose session never finishes closing. */
  readonly #connections = new Set<Duplex>();
  readonly #sessions = new Set<Http2Session>();
  readonly #authenticators: Authenticators;
  readonly #rateLimiters: RateLimiters;
  readonly #oidcLogins: OidcLogins;
  readonly #jwks: JwksCache;
  #config: WaypointConfig;
  #accepting: TunnelContext | undefined;
  #draining = false;
  #telemetryProblems = new Set<string>();
  #fileTracing: TracingSettings;
  /** The snapshot the tracing settings were last chosen from (setFileTracing chooses again). */
  #mesh: MeshView;
  #tracingSource: string | undefined;

  constructor(options: WaypointServerOptions) {
    this.#options = options;
    this.#log = options.log ?? logger('waypoint');
    this.#jwks = new JwksCache(this.metrics.authn, this.#log.child({ component: 'authn' }));
    this.#authenticators = new Authenticators(this.metrics.authn, this.#log.child({ component: 'authn' }), this.#jwks);
    this.#rateLimiters = new RateLimiters(this.metrics.rateLimits, this.#log.child({ component: 'ratelimit' }), options.rateLimitStore);
    this.#oidcLogins = new OidcLogins(this.metrics.oidc, this.#log.child({ component: 'oidc' }), this.#jwks);
    this.#config = this.#compile(options.mesh);
    this.#mesh = options.mesh;
    this.#warnTelemetryProblems(this.#config);
    this.#revocations = new PeerRevocations(this.metrics, this.#log.child({ component: 'revocation' }));
    this.#client = new HboneClient({
      getSecureContext: options.getSecureContext,
      checkPeer: this.#revocations.outbound,
      onHandshakeFailed: ({ reason }) => this.metrics.tlsHandshakeFailures.inc({ direction: 'outbound', reason }),
      log: this.#log.child({ component: 'hbone' }),
    });
    this.#clusters = new Clusters(this.#connector());
    this.tracer = new MeshTracer({
      serviceName: 'ambit-waypoint',
      settings: options.tracing ?? DEFAULT_TELEMETRY.tracing,
      metrics: this.metrics,
      log: this.#log.child({ component: 'tracing' }),
      ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
    });
    this.#fileTracing = options.tracing ?? DEFAULT_TELEMETRY.tracing;
    this.#applyTracing(options.mesh, this.#config);
    this.#forwarder = new Forwarder({
      tracer: this.tracer,
      config: () => this.#config,
      clusters: this.#clusters,
      upstreams: new Upstreams(),
      metrics: this.metrics,
      accessLog: options.accessLog ?? pinoAccessLog(this.#log.child({ component: 'access' })),
      tap: this.tap,
      log: this.#log,
      ...(options.rng ? { rng: options.rng } : {}),
      ...(options.retryBackOffMs !== undefined ? { retryBackOffMs: options.retryBackOffMs } : {}),
    });
    this.#tcp = new TcpProxy({
      config: () => this.#config,
      clusters: this.#clusters,
      dial: (up) => this.#dial(up),
      metrics: this.metrics,
      log: this.#log,
      ...(options.rng ? { rng: options.rng } : {}),
    });
    this.#h1 = createHttp1Server((req, res) => this.#onRequest(req, res, this.#tunnels.get(req.socket)));
    this.#h1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const ctx = this.#tunnels.get(socket);
      if (!ctx) return void socket.destroy();
      this.#forwarder
        .upgrade(req, socket, head, ctx.caller, ctx.service, ctx.port)
        .catch((err: unknown) => this.#log.error({ err }, 'waypoint upgrade handler failed'));
    });
    this.#h2 = createH2cServer();
    this.#h2.on('session', (session: Http2Session) => {
      if (this.#accepting) this.#tunnels.set(session, this.#accepting);
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    this.#h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#onRequest(req, res, this.#tunnels.get(req.stream.session as object)));
    this.hbone = new HboneServer({
      identity: options.identity,
      checkPeer: this.#revocations.inbound,
      log: this.#log.child({ component: 'hbone' }),
      events: {
        // HboneServer logs each refusal with the peer and reason.
        handshakeFailed: ({ reason }) => this.metrics.tlsHandshakeFailures.inc({ direction: 'inbound', reason }),
      },
      resolveUpstream: (request) => {
        const service = this.#config.serviceAt(request.destination.host, request.destination.port);
        if (!service) return { refuse: `${request.authority} is not a service this waypoint serves` };
        return { accept: (stream) => this.#accept(stream, request, service) };
      },
    });
    this.#trackConnections();
  }

  /** This waypoint's HBONE tunnels to endpoints, for its daemon's report (`ambit tunnels`). */
  tunnels(): TunnelInfo[] {
    return this.#client.tunnels();
  }

  get config(): WaypointConfig {
    return this.#config;
  }

  /**
   * A new mesh snapshot: new requests use it; requests in flight finish on
   * theirs. Pooled connections to endpoints that are gone, or now behind
   * another peer, close (busy ones once their request ends).
   */
  update(mesh: MeshView): void {
    const config = this.#compile(mesh);
    this.#config = config;
    this.#warnTelemetryProblems(config);
    this.#applyTracing(mesh, config);
    this.#clusters.retain((up, was) => {
      const policy = config.routes.policyFor(was.host, was.subset, was.port);
      const now = policy && config.current(up);
      return now !== undefined && inSubset(now, policy!.subsetLabels);
    });
  }

  /** A Telemetry or MeshConfig that cannot apply as written is logged when it first appears, not on every snapshot. */
  #warnTelemetryProblems(config: WaypointConfig): void {
    const problems = config.telemetryProblems();
    for (const p of problems) if (!this.#telemetryProblems.has(p)) this.#log.warn({ problem: p }, `telemetry configuration not applied as written: ${p}`);
    this.#telemetryProblems = new Set(problems);
  }

  /**
   * The revocation list of the manifest the mesh source accepted: from now on
   * its peers are refused; when it changed, open sessions with them (callers'
   * and to peer daemons) are cut with their streams.
   */
  applyRevocations(list: RevocationList): void {
    this.#revocations.enforce(list, { inbound: this.hbone, outbound: this.#client });
  }

  /** New tracing settings from the settings file (SIGHUP); they apply while the Telemetry API does not decide. */
  setFileTracing(settings: TracingSettings): void {
    this.#fileTracing = settings;
    this.#applyTracing(this.#mesh, this.#config);
  }

  #applyTracing(mesh: MeshView, config: WaypointConfig): void {
    this.#mesh = mesh;
    const { settings, source } = tracingSettingsFor(mesh, config, this.#options.services, this.#fileTracing);
    const from = describeSource(source);
    if (from !== this.#tracingSource) this.#log.info({ source: from }, `tracing settings from ${from}`);
    this.#tracingSource = from;
    this.tracer.update(settings);
  }

  /** The cluster connection pools, for tests and the admin view. */
  get clusters(): Clusters {
    return this.#clusters;
  }

  #trackConnections(): void {
    this.hbone.server.on('secureConnection', (socket: Duplex) => {
      this.#connections.add(socket);
      socket.once('close', () => this.#connections.delete(socket));
    });
  }

  listen(port: number, host = '0.0.0.0'): Promise<AddressInfo> {
    return this.hbone.listen(port, host);
  }

  /**
   * Envoy's drain: keep serving (daemons that have not yet seen a detach still
   * send here), but move every client off its connection: HTTP/1.1 responses
   * say `Connection: close` and idle connections close, HTTP/2 sessions get
   * GOAWAY. Clients reconnect, and their daemons send the new connections
   * wherever the service's traffic goes now.
   */
  drain(): void {
    this.#draining = true;
    this.#h1.closeIdleConnections();
    for (const s of this.#sessions) s.close();
  }

  async close(graceMs = 5000): Promise<void> {
    // Node's http2 can leave a destroyed session's socket open for good when
    // the session still had a write in flight (seen with h2c tunnels torn
    // down mid-exchange); the server's close would wait for it forever.
    const cut = setTimeout(() => {
      for (const socket of this.#connections) socket.destroy();
    }, graceMs + 100);
    await this.hbone.close(graceMs);
    clearTimeout(cut);
    this.tap.close();
    this.#clusters.close();
    this.#client.close();
    this.#h1.closeAllConnections();
    this.#h2.close();
    await this.tracer.shutdown();
  }

  #compile(mesh: MeshView): WaypointConfig {
    const o = this.#options;
    const config = new WaypointConfig(mesh, {
      services: o.services,
      domain: o.domain,
      trustDomain: o.trustDomain,
      authenticators: this.#authenticators,
      rateLimiters: this.#rateLimiters,
      oidcLogins: this.#oidcLogins,
    });
    // Both compiles above asked for the key sources they use; the others go.
    this.#jwks.sweep();
    return config;
  }

  #accept(stream: Duplex, request: ConnectRequest, service: ServiceView): void {
    const ctx: TunnelContext = { caller: { principal: request.peerIdentity, address: request.peerAddress }, service, port: request.destination.port };
    const tcp = (): void => {
      this.#tcp.handle(stream, ctx.caller, service, ctx.port).catch((err: unknown) => {
        this.#log.error({ err }, 'waypoint TCP proxy failed');
        stream.destroy();
      });
    };
    if (this.#config.routes.tcpOnly(service.fqdn, ctx.port)) return tcp();
    sniffProtocol(
      stream,
      (protocol) => {
        if (protocol === 'tcp') return tcp();
        if (protocol === 'h1') {
          this.#tunnels.set(stream, ctx);
          this.#h1.emit('connection', asHttpSocket(stream));
          stream.resume();
          return;
        }
        // The h2 server makes the session synchronously inside emit('connection').
        this.#accepting = ctx;
        try {
          this.#h2.emit('connection', stream);
        } finally {
          this.#accepting = undefined;
        }
        stream.resume();
      },
      this.#options.protocolDetectionTimeoutMs,
    );
  }

  #onRequest(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, ctx: TunnelContext | undefined): void {
    if (!ctx) {
      res.writeHead(500).end();
      return;
    }
    if (this.#draining) {
      if (req.httpVersionMajor === 1) (res as ServerResponse).shouldKeepAlive = false;
      else res.once('finish', () => (req as Http2ServerRequest).stream.session?.close());
    }
    this.#forwarder.handle(req, res, ctx.caller, ctx.service, ctx.port).catch((err: unknown) => this.#log.error({ err }, 'waypoint request handler failed'));
  }

  #connector(): Connector {
    return (up, protocol, events, cluster, dialHeaders) => {
      this.metrics.connectionsOpened.inc({ cluster, protocol });
      const stream = this.#dial(up, dialHeaders);
      return protocol === 'h2' ? new H2Connection(up, stream, events) : new H1Connection(up, stream, events);
    };
  }

  /** `headers`: the trace context of the try that opens the connection, so the peer daemon's tunnel can join its trace. */
  #dial(up: Upstream, headers?: Readonly<Record<string, string>>): Promise<Duplex> {
    return this.#client.connect({
      peer: up.peer,
      authority: up.authority,
      source: this.#options.principal,
      expectedServerIdentity: up.peerIdentity,
      ...(headers ? { headers } : {}),
    });
  }
}

const describeSource = (s: TracingSource): string =>
  s.kind === 'settings-file' ? 'the settings file' : `the Telemetry API${s.service ? ` (service ${s.service})` : ''}`;

const inSubset = (up: Upstream, labels: Readonly<Record<string, string>> | undefined): boolean =>
  labels === undefined || Object.entries(labels).every(([k, v]) => up.endpoint.labels[k] === v);
