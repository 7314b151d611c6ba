/**
 * One HTTP request through the waypoint, in Envoy's filter order, each
 * stage in its own module and each ending in a value the next one reads:
 *
 *   JWT and OIDC login (authn/, oidc/) -> RBAC (admission.ts) -> route
 *   decision (route.ts, pure) -> rate limits (ratelimit/) -> fault filter
 *   (admission.ts) -> router (router.ts: breakers, mirrors, tries, retries,
 *   timeouts, outlier reports) -> the response (deliver.ts) or a local
 *   reply (replies.ts).
 *
 * This file only wires them together, for plain requests and for
 * WebSocket upgrades alike, and owns the exchange (exchange.ts): every
 * path ends in exactly one access-log line and one metrics sample, written
 * when the client's side closes.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logging.js';
import type { MeshTracer } from '../core/telemetry/tracing/tracer.js';
import type { AccessLog } from './access-log.js';
import { applyFault, authorize, type Authentication } from './admission.js';
import type { Caller } from './caller.js';
import type { Clusters } from './clusters.js';
import type { WaypointConfig } from './config.js';
import { openExchange, recordExchange, type Exchange } from './exchange.js';
import type { ServiceView } from './mesh-view.js';
import type { RequestTap } from './tap-filter.js';
import type { WaypointMetrics } from './metrics.js';
import { replies, writeRawReply, writeReply, type LocalReply } from './replies.js';
import type { DownstreamRequest } from './request-body.js';
import { endRequestTrace, startRequestTrace } from './request-trace.js';
import { route, type RequestAttributes } from './route.js';
import { Router, type Forward } from './router.js';
import type { DownstreamResponse, Upstreams } from './upstream.js';

export interface ForwardDeps {
  config: () => WaypointConfig;
  clusters: Clusters;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  accessLog: AccessLog;
  /** `ambit tap`'s subscribers, offered every finished request. */
  tap?: RequestTap;
  tracer: MeshTracer;
  log: Logger;
  rng?: () => number;
  /** Envoy's retry back-off base (25 ms); the cap is 10x. */
  retryBackOffMs?: number;
}

/** Where admission leaves a request: for the router, answered here, or over (the client left during a fault delay). */
type Admitted = ({ kind: 'forward' } & Forward) | { kind: 'reply'; reply: LocalReply } | { kind: 'gone' };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Forwarder {
  readonly #d: ForwardDeps;
  readonly #rng: () => number;
  readonly #router: Router;

  constructor(deps: ForwardDeps) {
    this.#d = deps;
    this.#rng = deps.rng ?? Math.random;
    this.#router = new Router({
      clusters: deps.clusters,
      upstreams: deps.upstreams,
      metrics: deps.metrics,
      log: deps.log,
      rng: this.#rng,
      ...(deps.retryBackOffMs !== undefined ? { retryBackOffMs: deps.retryBackOffMs } : {}),
    });
  }

  async handle(req: DownstreamRequest, res: DownstreamResponse, caller: Caller, service: ServiceView, port: number): Promise<void> {
    const config = this.#d.config();
    const x = openExchange(req, config.telemetryFor(service.fqdn));
    x.trace = startRequestTrace(this.#d.tracer, req, x, caller, service, port);
    res.once('close', () => {
      if (!res.writableFinished) x.clientGone = true;
      recordExchange(x, req, caller, service, this.#d);
      endRequestTrace(x);
    });
    try {
      const a = await this.#admit(config, x, req, caller, service, port);
      if (a.kind === 'gone') return;
      if (a.kind === 'reply') return writeReply(res, x, a.reply);
      await this.#router.forward(config, x, req, res, a);
    } catch (err) {
      this.#d.log.error({ err, requestId: x.requestId }, 'waypoint request failed');
      writeReply(res, x, replies.reset());
    }
  }

  /**
   * An HTTP/1.1 Upgrade (WebSocket): admitted and routed like any request,
   * then given to the router's upgrade path. Logged when the socket closes.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, caller: Caller, service: ServiceView, port: number): Promise<void> {
    const config = this.#d.config();
    const x = openExchange(req, config.telemetryFor(service.fqdn));
    x.trace = startRequestTrace(this.#d.tracer, req, x, caller, service, port);
    socket.once('close', () => {
      if (x.status === 0) x.clientGone = true;
      recordExchange(x, req, caller, service, this.#d);
      endRequestTrace(x);
    });
    // http-proxy-3 ends sockets with net.Socket's destroySoon; a tunnel stream has none. Deferred, so a reply written next still goes out.
    (socket as Duplex & { destroySoon?: () => void }).destroySoon ??= () => setImmediate(() => socket.end());
    try {
      if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || req.method !== 'GET') return writeRawReply(socket, x, replies.upgradeRejected());
      const a = await this.#admit(config, x, req, caller, service, port);
      if (a.kind === 'gone') return;
      if (a.kind === 'reply') return writeRawReply(socket, x, a.reply);
      await this.#router.upgrade(config, x, req, socket, head, a);
    } catch (err) {
      this.#d.log.error({ err, requestId: x.requestId }, 'waypoint upgrade failed');
      writeRawReply(socket, x, replies.reset());
    }
  }

  /** RBAC, the route decision and the fault filter, noting in the exchange what each decided. */
  async #admit(config: WaypointConfig, x: Exchange, req: DownstreamRequest, caller: Caller, service: ServiceView, port: number): Promise<Admitted> {
    const attrs = attributesOf(req, caller, service, port);
    const authn = config.authnFor(service);
    let authenticated: Authentication | undefined;
    if (authn && !authn.empty) {
      const result = await authn.authenticate({ headers: req.headers, host: attrs.host, path: attrs.path });
      if (result.kind === 'reply') return { kind: 'reply', reply: result.reply };
      authenticated = result;
    }
    // A request with a verified bearer token is an API client's: it is not sent to a login page.
    const login = config.oidcLoginFor(service);
    if (login && authenticated?.principal === undefined) {
      const o = await login.handle({ method: attrs.method, headers: req.headers, host: attrs.host, path: attrs.path });
      x.setCookies.push(...o.setCookies);
      if (o.kind === 'reply') return { kind: 'reply', reply: o.reply };
      if (o.principal !== undefined) authenticated = { principal: o.principal, claims: o.claims };
    }
    const authz = authorize(config.policiesFor(service.fqdn), attrs, service.record.vip ?? '', authenticated);
    x.authzPolicy = authz.policy;
    if (!authz.allowed) return { kind: 'reply', reply: replies.denied() };
    const r = route(attrs, config, this.#rng);
    x.decision = r.decision;
    if (r.kind === 'reply') return r;
    const limits = config.rateLimitsFor(service);
    const limited = limits && !limits.empty ? await limits.check(attrs, r.decision.routeName) : undefined;
    if (limited) return { kind: 'reply', reply: limited };
    const fault = await applyFault(r.decision.fault, { rng: this.#rng, sleep, clientGone: () => x.clientGone });
    return fault.kind === 'pass' ? r : fault;
  }
}

/** What routing and authorization read of a request, read once. */
function attributesOf(req: DownstreamRequest, caller: Caller, service: ServiceView, port: number): RequestAttributes {
  return {
    host: String(req.headers[':authority'] ?? req.headers.host ?? ''),
    path: String(req.headers[':path'] ?? req.url ?? '/'),
    method: req.method ?? 'GET',
    headers: req.headers,
    caller,
    service: service.fqdn,
    port,
  };
}
