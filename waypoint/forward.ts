/**
 * One HTTP request through the waypoint, in Envoy's filter order:
 * L7 AuthorizationPolicy (RBAC) -> route -> fault -> router (circuit
 * breakers, mirror copies, endpoint pick, a pooled connection in the HTTP
 * version the DestinationRule asks for, tries with per-try and route
 * timeouts, retries per the route's retry policy, outlier reporting) ->
 * response with the route's header operations, trailers included. Every
 * path ends in exactly one access-log line and one metrics sample.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logging.js';
import type { AccessLog } from './access-log.js';
import { applyFault, authorize } from './admission.js';
import type { Caller } from './caller.js';
import type { ClusterState, Clusters } from './clusters.js';
import type { WaypointConfig } from './config.js';
import { checkout, type Checkout, type CheckoutRequest } from './checkout.js';
import { clusterEndpoints, pickEndpoint } from './endpoint-pick.js';
import type { Lease, UpstreamProtocol } from './connection-pool.js';
import { applyHeaderOps, responseHeaders, shadowAuthority, stripHopByHop } from './headers.js';
import { replies, replyFor, writeRawReply, writeReply, type LocalReply } from './replies.js';
import { openExchange, recordExchange, type Exchange } from './exchange.js';
import type { ServiceView } from './mesh-view.js';
import type { WaypointMetrics } from './metrics.js';
import { readRequestBody, type DownstreamRequest, type RequestBody } from './request-body.js';
import {
  clusterName, shouldRetry, upstreamProtocol, type AttemptOutcome, type Endpoint, type ForwardDecision, type MirrorTarget, type PickContext,
} from './routing/index.js';
import { route, type RequestAttributes } from './route.js';
import type { DownstreamResponse, OwnRequest, TryResult, UpstreamResponse, Upstreams } from './upstream.js';

export interface ForwardDeps {
  config: () => WaypointConfig;
  clusters: Clusters;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  accessLog: AccessLog;
  log: Logger;
  rng?: () => number;
  /** Envoy's retry back-off base (25 ms); the cap is 10x. */
  retryBackOffMs?: number;
}

type Admitted = { kind: 'forward'; decision: ForwardDecision; cluster: ClusterState; endRequest: () => void } | { kind: 'reply'; reply: LocalReply } | { kind: 'gone' };

/** What routing and authorization read of a request, read once. */
function attributesOf(req: DownstreamRequest, caller: Caller, service: ServiceView, port: number): RequestAttributes {
  return {
    host: String(req.headers[':authority'] ?? req.headers.host ?? ''), path: String(req.headers[':path'] ?? req.url ?? '/'),
    method: req.method ?? 'GET', headers: req.headers, caller, service: service.fqdn, port,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Forwarder {
  readonly #d: ForwardDeps;
  readonly #rng: () => number;

  constructor(deps: ForwardDeps) {
    this.#d = deps;
    this.#rng = deps.rng ?? Math.random;
  }

  async handle(req: DownstreamRequest, res: DownstreamResponse, caller: Caller, service: ServiceView, port: number): Promise<void> {
    const config = this.#d.config();
    const x = openExchange(req);
    res.once('close', () => {
      if (!res.writableFinished) x.clientGone = true;
      recordExchange(x, req, caller, service, this.#d);
    });
    try {
      const a = await this.#admit(config, x, req, caller, service, port);
      if (a.kind === 'gone') return;
      if (a.kind === 'reply') return writeReply(res, x, a.reply);
      // Envoy counts a request against max_requests until its stream ends.
      res.once('close', a.endRequest);
      this.#prepareUpstreamRequest(req, a.decision, false);
      await this.#route(config, x, req, res, a.decision, a.cluster);
    } catch (err) {
      this.#d.log.error({ err, requestId: x.requestId }, 'waypoint request failed');
      writeReply(res, x, replies.reset());
    }
  }

  /**
   * An HTTP/1.1 Upgrade (WebSocket): admitted, routed and given an endpoint
   * like any request, then http-proxy-3 relays the endpoint's answer and,
   * on 101, splices the bytes both ways. The upgraded connection is the
   * WebSocket's alone until it closes (no retries, no route timeout: Envoy
   * does neither for upgraded streams). Logged when the socket closes.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, caller: Caller, service: ServiceView, port: number): Promise<void> {
    const config = this.#d.config();
    const x = openExchange(req);
    socket.once('close', () => {
      if (x.status === 0) x.clientGone = true;
      recordExchange(x, req, caller, service, this.#d);
    });
    // http-proxy-3 ends sockets with net.Socket's destroySoon; a tunnel stream has none. Deferred, so a reply written next still goes out.
    (socket as Duplex & { destroySoon?: () => void }).destroySoon ??= () => setImmediate(() => socket.end());
    try {
      if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || req.method !== 'GET') return writeRawReply(socket, x, replies.upgradeRejected());
      const a = await this.#admit(config, x, req, caller, service, port);
      if (a.kind === 'gone') return;
      if (a.kind === 'reply') return writeRawReply(socket, x, a.reply);
      socket.once('close', a.endRequest);
      const d = a.decision;
      this.#prepareUpstreamRequest(req, d, true);
      const endpoints = clusterEndpoints(this.#d.clusters, a.cluster, d.policy!, config.endpoints(d.destination.host, d.destination.port));
      const ep = pickEndpoint(a.cluster, endpoints, pickContext(req));
      if (!ep) return writeRawReply(socket, x, replies.noHealthyUpstream());
      const upstream = config.upstream(ep)!;
      x.upstream = upstream;
      const lease = await this.#checkout(x, a.cluster, { upstream, protocol: 'h1', fresh: false, deadline: Infinity, client: socket });
      if (lease.kind === 'gone') return;
      if (lease.kind === 'reply') return writeRawReply(socket, x, lease.reply);
      x.attempts = 1;
      a.cluster.load.begin(ep.key);
      socket.once('close', () => a.cluster.load.end(ep.key));
      const r = await this.#d.upstreams.upgrade(req, socket, head, lease);
      if (a.cluster.outlier?.report(ep.key, r.kind === 'failed' ? outcomeOf(r) : { status: r.status })) this.#d.metrics.ejections.inc({ cluster: a.cluster.pool.cluster });
      if (r.kind === 'failed') return writeRawReply(socket, x, replyFor(r.error));
      // 101, or the endpoint's refusal, which http-proxy-3 has relayed.
      x.status = r.status;
    } catch (err) {
      this.#d.log.error({ err, requestId: x.requestId }, 'waypoint upgrade failed');
      writeRawReply(socket, x, replies.reset());
    }
  }

  /**
   * Authorization, route, fault, the max_requests breaker: a local answer,
   * where the request goes (holding a request slot until `endRequest`), or
   * 'gone' when the client left during a fault delay.
   */
  async #admit(config: WaypointConfig, x: Exchange, req: DownstreamRequest, caller: Caller, service: ServiceView, port: number): Promise<Admitted> {
    const attrs = attributesOf(req, caller, service, port);
    const authz = authorize(config.policiesFor(service.fqdn), attrs, service.record.vip ?? '');
    x.authzPolicy = authz.policy;
    if (!authz.allowed) return { kind: 'reply', reply: replies.denied() };
    const r = route(attrs, config, this.#rng);
    x.decision = r.decision;
    if (r.kind === 'reply') return r;
    const fault = await applyFault(r.decision.fault, { rng: this.#rng, sleep, clientGone: () => x.clientGone });
    if (fault.kind !== 'pass') return fault;

    const cluster = this.#d.clusters.for(r.policy);
    const request = cluster.breaker.tryAcquire('request');
    if (typeof request !== 'function') {
      this.#d.metrics.overflows.inc({ cluster: r.policy.cluster, reason: request });
      return { kind: 'reply', reply: replies.overflow(request) };
    }
    let ended = false;
    const endRequest = (): void => {
      if (ended) return;
      ended = true;
      request();
    };
    return { kind: 'forward', decision: r.decision, cluster, endRequest };
  }

  /** The route's request header operations and rewrite, once: every try sends the same request. */
  #prepareUpstreamRequest(req: DownstreamRequest, d: ForwardDecision, upgrade: boolean): void {
    const h = req.headers as Record<string, string | string[] | undefined>;
    // The client's Connection and friends describe its hop, not the pooled upstream connection; an upgrade asks for the same of the endpoint.
    stripHopByHop(h);
    if (upgrade) {
      h.connection = 'Upgrade';
      h.upgrade = 'websocket';
    }
    applyHeaderOps(h, d.requestHeaders);
    // The waypoint answers 100-continue itself (node:http does); the endpoint gets the body outright.
    delete h.expect;
    h['x-forwarded-proto'] ??= 'http';
    if (d.rewrite) {
      req.url = d.rewrite.path;
      if (h[':path'] !== undefined) h[':path'] = d.rewrite.path;
      h.host = d.rewrite.authority;
      if (h[':authority'] !== undefined) h[':authority'] = d.rewrite.authority;
    }
  }

  /** The router: tries until a response is final, a timeout fires or the retry policy says stop. */
  async #route(config: WaypointConfig, x: Exchange, req: DownstreamRequest, res: DownstreamResponse, d: ForwardDecision, cluster: ClusterState): Promise<void> {
    const policy = d.policy!;
    const endpoints = clusterEndpoints(this.#d.clusters, cluster, policy, config.endpoints(d.destination.host, d.destination.port));
    const ctx = pickContext(req);
    const body = await readRequestBody(req);
    const deadline = d.timeoutMs > 0 ? x.started + d.timeoutMs : Infinity;
    const protocol = upstreamProtocol(policy.connectionPool, req.httpVersionMajor >= 2 ? 'h2' : 'h1');
    this.#mirror(config, req, d, body);
    const maxTries = 1 + (d.retries?.attempts ?? 0);
    const tried = new Set<string>();
    // Set after a reused connection proved dead before the request left: that try does not count.
    let resend: Endpoint | undefined;
    for (;;) {
      const ep = resend ?? pickEndpoint(cluster, endpoints, ctx, tried);
      if (!ep) return writeReply(res, x, replies.noHealthyUpstream());
      const upstream = config.upstream(ep)!;
      x.upstream = upstream;
      tried.add(ep.key);
      const lease = await this.#checkout(x, cluster, { upstream, protocol, fresh: resend !== undefined, deadline, client: res });
      if (lease.kind === 'gone') return;
      if (lease.kind === 'reply') return writeReply(res, x, lease.reply);
      x.attempts++;
      const tryTimeout = Math.min(d.retries?.perTryTimeoutMs ?? Infinity, deadline - Date.now());
      cluster.load.begin(ep.key);
      const result = await this.#try(req, res, lease, body, tryTimeout);
      const done = (): void => cluster.load.end(ep.key);
      if (result.error === 'reset-before-request' && resend === undefined && body.replayable && !x.clientGone) {
        // Envoy's reset-before-request: the request never left, so it goes again at once on a new connection.
        this.#d.metrics.resendsBeforeRequest.inc({ cluster: policy.cluster });
        x.attempts--;
        resend = ep;
        done();
        continue;
      }
      resend = undefined;
      const outcome = outcomeOf(result);
      if (cluster.outlier?.report(ep.key, outcome)) this.#d.metrics.ejections.inc({ cluster: policy.cluster });
      if (x.clientGone) {
        result.response?.destroy();
        return done();
      }
      const timedOut = Date.now() >= deadline;
      const retry = !timedOut && x.attempts < maxTries && body.replayable && shouldRetry(d.retries, outcome) && this.#retryBudget(cluster, policy.cluster);
      if (!retry) {
        if (result.response) return this.#deliver(res, x, result.response, d, done);
        done();
        return writeReply(res, x, timedOut ? replies.timeout() : replyFor(result.error!));
      }
      result.response?.destroy();
      done();
      await sleep(this.#backOff(x.attempts));
      if (x.clientGone) return;
    }
  }

  /** Envoy's request mirroring: each mirror whose dice say so gets a copy, fire and forget; nothing it does reaches the client. */
  #mirror(config: WaypointConfig, req: DownstreamRequest, d: ForwardDecision, body: RequestBody): void {
    for (const m of d.mirrors) {
      if (this.#rng() * 100 >= m.percent) continue;
      const authority = shadowAuthority(String(req.headers[':authority'] ?? req.headers.host ?? ''));
      const headers = { ...req.headers, host: authority, ...(req.headers[':authority'] !== undefined ? { ':authority': authority } : {}) };
      const copy: OwnRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers };
      const client = req.httpVersionMajor >= 2 ? 'h2' : 'h1';
      this.#shadow(config, copy, client, m, body, d.timeoutMs).then(
        (outcome) => this.#d.metrics.mirrors.inc(outcome),
        (err: unknown) => this.#d.log.warn({ err, mirror: m.host }, 'mirror request failed unexpectedly'),
      );
    }
  }

  /** One mirror copy; resolves with the metric labels for how it ended, never rejects on upstream trouble. */
  async #shadow(
    config: WaypointConfig, copy: OwnRequest, client: UpstreamProtocol, m: MirrorTarget, body: RequestBody, timeoutMs: number,
  ): Promise<{ cluster: string; outcome: string }> {
    const policy = config.routes.policyFor(m.host, m.subset, m.port);
    const name = policy?.cluster ?? clusterName(m.host, m.subset, m.port);
    if (!policy) return { cluster: name, outcome: 'no_cluster' };
    // A body streamed through once cannot be sent twice.
    if (!body.replayable) return { cluster: name, outcome: 'body_not_buffered' };
    const cluster = this.#d.clusters.for(policy);
    const endpoints = clusterEndpoints(this.#d.clusters, cluster, policy, config.endpoints(m.host, m.port));
    const ep = pickEndpoint(cluster, endpoints, { request: { headers: copy.headers, path: copy.url } });
    if (!ep) return { cluster: name, outcome: 'no_endpoint' };
    const request = cluster.breaker.tryAcquire('request');
    if (typeof request !== 'function') return { cluster: name, outcome: 'overflow' };
    let held = true;
    try {
      let lease = cluster.pool.acquire(config.upstream(ep)!, upstreamProtocol(policy.connectionPool, client));
      if (typeof lease === 'string') return { cluster: name, outcome: 'overflow' };
      if (lease.kind === 'waiting') lease = await lease.granted;
      const t = this.#d.upstreams.send(lease, copy, body);
      const timer = timeoutMs > 0 ? setTimeout(() => t.abort('timeout'), timeoutMs) : undefined;
      const r = await t.result;
      clearTimeout(timer);
      if (!r.response) return { cluster: name, outcome: r.error };
      // Read and dropped; the request slot is held until the copy's response ends, as for any request.
      held = false;
      r.response.body.once('close', request);
      r.response.body.resume();
      return { cluster: name, outcome: String(r.response.statusCode) };
    } finally {
      if (held) request();
    }
  }

  #checkout(x: Exchange, cluster: ClusterState, r: Omit<CheckoutRequest, 'clientGone'>): Promise<Checkout> {
    return checkout(cluster.pool, { ...r, clientGone: () => x.clientGone }, this.#d.metrics);
  }

  /** One try, ended early by the per-try timeout, the route deadline, or the client leaving. */
  async #try(req: DownstreamRequest, res: DownstreamResponse, lease: Lease, body: RequestBody, tryTimeout: number): Promise<TryResult> {
    if (tryTimeout <= 0) {
      lease.conn.abandon();
      return { error: 'timeout' };
    }
    const t = this.#d.upstreams.try(req, res, lease, body);
    const timer = tryTimeout === Infinity ? undefined : setTimeout(() => t.abort('timeout'), tryTimeout);
    const onClose = (): void => t.abort('reset');
    res.once('close', onClose);
    const result = await t.result;
    clearTimeout(timer);
    res.off('close', onClose);
    return result;
  }

  #retryBudget(cluster: ClusterState, name: string): boolean {
    const r = cluster.breaker.tryAcquire('retry');
    if (typeof r !== 'function') {
      this.#d.metrics.overflows.inc({ cluster: name, reason: r });
      return false;
    }
    // Envoy counts a retry as active while it is outstanding; ours is sequential, so the next try is it.
    setImmediate(r);
    this.#d.metrics.retries.inc({ cluster: name });
    return true;
  }

  /** Envoy's fully jittered exponential back-off: uniform in [0, base * 2^(n-1)), capped at 10x base. */
  #backOff(attempt: number): number {
    const base = this.#d.retryBackOffMs ?? 25;
    return Math.floor(this.#rng() * Math.min(base * 2 ** (attempt - 1), base * 10));
  }

  /** Streams the winning response to the client, trailers included; an endpoint reset mid-body resets the client too. */
  #deliver(res: DownstreamResponse, x: Exchange, upstream: UpstreamResponse, d: ForwardDecision, done: () => void): void {
    x.status = upstream.statusCode;
    const body = upstream.body;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      done();
    };
    res.once('close', () => {
      upstream.destroy();
      release();
    });
    try {
      res.writeHead(x.status, responseHeaders(upstream.headers, d.responseHeaders));
    } catch (err) {
      this.#d.log.warn({ err, requestId: x.requestId }, 'upstream response headers rejected');
      upstream.destroy();
      return writeReply(res, x, replies.protocolError());
    }
    body.once('end', () => {
      release();
      const trailers = upstream.trailers();
      // HTTP/1.1 carries them only in a chunked response; node:http drops them otherwise.
      if (Object.keys(trailers).length > 0) {
        try {
          res.addTrailers(trailers as Record<string, string>);
        } catch (err) {
          this.#d.log.debug({ err, requestId: x.requestId }, 'upstream trailers dropped');
        }
      }
      res.end();
    });
    body.once('close', () => {
      release();
      if (!body.readableEnded && !res.writableEnded) res.destroy();
    });
    body.pipe(res as NodeJS.WritableStream, { end: false });
  }
}

/** What a balancer may hash on: the request as the client sent it. */
const pickContext = (req: DownstreamRequest): PickContext => ({ request: { headers: req.headers, path: req.url ?? '/' } });

function outcomeOf(r: TryResult): AttemptOutcome {
  if (r.response) {
    const grpc = r.response.headers['grpc-status'];
    return grpc === undefined ? { status: r.response.statusCode } : { status: r.response.statusCode, grpcStatus: Number(grpc) };
  }
  return { error: r.error === 'protocol' || r.error === 'reset-before-request' ? 'reset' : r.error };
}
