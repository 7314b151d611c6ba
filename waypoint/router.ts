/**
 * Envoy's router filter for the waypoint: carries out a forward decision
 * (route.ts) against the destination cluster's runtime state (clusters.ts).
 * The invariants it keeps:
 *
 * - max_requests: a request holds a slot of its cluster's breaker from
 *   here until its client's side closes; with none free it is answered
 *   503 UO and goes nowhere.
 * - The body is read once (request-body.ts): every try and every mirror
 *   copy replays the same bytes, and a body too large to buffer is sent
 *   once, never retried, never mirrored.
 * - Each try picks an endpoint not tried yet when it can (endpoint-pick.ts),
 *   checks a connection out of the pool (checkout.ts), holds the endpoint's
 *   request-load count for as long as it uses it, and is cut short by the
 *   per-try timeout, the route deadline or the client leaving.
 * - A try whose reused connection proved dead before the request left
 *   (reset-before-request) goes again at once, to the same endpoint on a
 *   fresh connection, and does not count as a try: the endpoint never saw it.
 * - Every other try's outcome is reported to outlier detection. Another try
 *   needs all of: the route's retryOn matching, tries left, time left, a
 *   replayable body, and room in the cluster's retry budget (max_retries);
 *   it waits Envoy's jittered back-off first.
 * - The last try's response is delivered (deliver.ts); without one, its
 *   error is the answer (replies.ts). The client leaving ends it silently.
 * - A WebSocket upgrade gets one endpoint and a connection of its own: no
 *   retries and no route timeout, as Envoy does for upgraded streams.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logging.js';
import { checkout, type Checkout, type CheckoutRequest } from './checkout.js';
import type { ClusterState, Clusters } from './clusters.js';
import type { WaypointConfig } from './config.js';
import type { Lease } from './connection-pool.js';
import { deliver } from './deliver.js';
import { clusterEndpoints, pickEndpoint } from './endpoint-pick.js';
import type { Exchange } from './exchange.js';
import { prepareUpstreamRequest } from './headers.js';
import type { WaypointMetrics } from './metrics.js';
import { mirror } from './mirror.js';
import { replies, replyFor, writeRawReply, writeReply, type LocalReply } from './replies.js';
import { readRequestBody, type DownstreamRequest, type RequestBody } from './request-body.js';
import { abandonTryTrace, endTryTrace, startTryTrace } from './request-trace.js';
import {
  shouldRetry,
  upstreamProtocol,
  type AttemptOutcome,
  type DestinationPolicy,
  type Endpoint,
  type ForwardDecision,
  type PickContext,
} from '../core/routing/index.js';
import type { DownstreamResponse, TryResult, Upstreams } from './upstream.js';

export interface RouterDeps {
  clusters: Clusters;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  log: Logger;
  rng: () => number;
  /** Envoy's retry back-off base (25 ms); the cap is 10x. */
  retryBackOffMs?: number;
}

/** A request routing decided to forward: the route, and the cluster policy it names. */
export interface Forward {
  decision: ForwardDecision;
  policy: DestinationPolicy;
}

type Held = { kind: 'held'; cluster: ClusterState } | { kind: 'reply'; reply: LocalReply };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Router {
  readonly #d: RouterDeps;

  constructor(deps: RouterDeps) {
    this.#d = deps;
  }

  /** Tries until a response is final, a timeout fires or the retry policy says stop. */
  async forward(config: WaypointConfig, x: Exchange, req: DownstreamRequest, res: DownstreamResponse, f: Forward): Promise<void> {
    const held = this.#hold(f.policy, res);
    if (held.kind === 'reply') return writeReply(res, x, held.reply);
    const { cluster } = held;
    const { decision: d, policy } = f;
    prepareUpstreamRequest(req, d, false);
    const endpoints = clusterEndpoints(this.#d.clusters, cluster, policy, config.endpoints(d.destination.host, d.destination.port));
    const ctx = pickContext(req);
    const body = await readRequestBody(req);
    x.requestBytes = () => body.bytes();
    const deadline = d.timeoutMs > 0 ? x.started + d.timeoutMs : Infinity;
    const protocol = upstreamProtocol(policy.connectionPool, req.httpVersionMajor >= 2 ? 'h2' : 'h1');
    mirror(this.#d, config, req, d, body);
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
      const span = startTryTrace(x, req, upstream, d);
      const lease = await this.#checkout(x, cluster, { upstream, protocol, fresh: resend !== undefined, deadline, client: res, dialHeaders: span?.headers });
      if (lease.kind === 'gone') return abandonTryTrace(span, 'DC');
      if (lease.kind === 'reply') {
        abandonTryTrace(span, lease.reply.flag);
        return writeReply(res, x, lease.reply);
      }
      x.attempts++;
      const tryTimeout = Math.min(d.retries?.perTryTimeoutMs ?? Infinity, deadline - Date.now());
      cluster.load.begin(ep.key);
      const result = await this.#try(req, res, lease, body, tryTimeout);
      endTryTrace(span, result.response?.statusCode, result.error);
      const done = (): void => cluster.load.end(ep.key);
      if (result.error === 'reset-before-request' && resend === undefined && body.replayable && !x.clientGone) {
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
        if (result.response) return deliver(res, x, result.response, d.responseHeaders, done, this.#d.log);
        done();
        return writeReply(res, x, timedOut ? replies.timeout() : replyFor(result.error));
      }
      result.response?.destroy();
      done();
      await sleep(this.#backOff(x.attempts));
      if (x.clientGone) return;
    }
  }

  /**
   * An HTTP/1.1 Upgrade: one endpoint, one connection, then http-proxy-3
   * relays the endpoint's answer and, on 101, splices the bytes both ways
   * until the socket closes.
   */
  async upgrade(config: WaypointConfig, x: Exchange, req: IncomingMessage, socket: Duplex, head: Buffer, f: Forward): Promise<void> {
    const held = this.#hold(f.policy, socket);
    if (held.kind === 'reply') return writeRawReply(socket, x, held.reply);
    const { cluster } = held;
    const d = f.decision;
    prepareUpstreamRequest(req, d, true);
    const endpoints = clusterEndpoints(this.#d.clusters, cluster, f.policy, config.endpoints(d.destination.host, d.destination.port));
    const ep = pickEndpoint(cluster, endpoints, pickContext(req));
    if (!ep) return writeRawReply(socket, x, replies.noHealthyUpstream());
    const upstream = config.upstream(ep)!;
    x.upstream = upstream;
    const span = startTryTrace(x, req, upstream, d);
    const lease = await this.#checkout(x, cluster, { upstream, protocol: 'h1', fresh: false, deadline: Infinity, client: socket, dialHeaders: span?.headers });
    if (lease.kind === 'gone') return abandonTryTrace(span, 'DC');
    if (lease.kind === 'reply') {
      abandonTryTrace(span, lease.reply.flag);
      return writeRawReply(socket, x, lease.reply);
    }
    x.attempts = 1;
    cluster.load.begin(ep.key);
    socket.once('close', () => cluster.load.end(ep.key));
    const r = await this.#d.upstreams.upgrade(req, socket, head, lease);
    endTryTrace(span, r.kind === 'answered' ? r.status : undefined, r.kind === 'failed' ? r.error : undefined);
    if (cluster.outlier?.report(ep.key, r.kind === 'failed' ? outcomeOf(r) : { status: r.status }))
      this.#d.metrics.ejections.inc({ cluster: cluster.pool.cluster });
    if (r.kind === 'failed') return writeRawReply(socket, x, replyFor(r.error));
    // 101, or the endpoint's refusal, which http-proxy-3 has relayed.
    x.status = r.status;
  }

  /** The cluster's state, and a max_requests slot held until `client` closes (Envoy counts a request until its stream ends). */
  #hold(policy: DestinationPolicy, client: NodeJS.EventEmitter): Held {
    const cluster = this.#d.clusters.for(policy);
    const request = cluster.breaker.tryAcquire('request');
    if (typeof request !== 'function') {
      this.#d.metrics.overflows.inc({ cluster: policy.cluster, reason: request });
      return { kind: 'reply', reply: replies.overflow(request) };
    }
    client.once('close', request);
    return { kind: 'held', cluster };
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
    return Math.floor(this.#d.rng() * Math.min(base * 2 ** (attempt - 1), base * 10));
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
