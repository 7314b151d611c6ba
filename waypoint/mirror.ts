/**
 * Envoy's request mirroring (shadowing): each of the route's mirrors whose
 * dice say so gets a copy of the request, fire and forget, with `-shadow`
 * after the host in its authority as Envoy sends it, so the mirror can tell
 * copies from real traffic.
 *
 * - Nothing a copy does reaches the client or holds it up: the copy is sent
 *   alongside the first try and its response is read and dropped.
 * - A copy is a request of its own cluster: its endpoint is picked the same
 *   way (endpoint-pick.ts), it holds a max_requests slot until its response
 *   ends and overflows rather than exceed the breaker, and the route's
 *   timeout, if it has one, cuts it short.
 * - Only a buffered body can be sent twice: a streamed one is not mirrored.
 * - Every copy ends in one ambit_waypoint_mirror_requests_total sample: the
 *   mirror's status code, or why there was none.
 */
import type { Logger } from '../core/logging.js';
import type { Clusters } from './clusters.js';
import type { WaypointConfig } from './config.js';
import type { UpstreamProtocol } from './connection-pool.js';
import { clusterEndpoints, pickEndpoint } from './endpoint-pick.js';
import { shadowAuthority } from './headers.js';
import type { WaypointMetrics } from './metrics.js';
import type { DownstreamRequest, RequestBody } from './request-body.js';
import { clusterName, upstreamProtocol, type ForwardDecision, type MirrorTarget } from '../core/routing/index.js';
import type { OwnRequest, Upstreams } from './upstream.js';

export interface MirrorDeps {
  clusters: Clusters;
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  log: Logger;
  rng: () => number;
}

/** The metric labels for how one copy ended. */
interface MirrorOutcome {
  cluster: string;
  outcome: string;
}

export function mirror(deps: MirrorDeps, config: WaypointConfig, req: DownstreamRequest, d: ForwardDecision, body: RequestBody): void {
  for (const m of d.mirrors) {
    if (deps.rng() * 100 >= m.percent) continue;
    const authority = shadowAuthority(String(req.headers[':authority'] ?? req.headers.host ?? ''));
    const headers = { ...req.headers, host: authority, ...(req.headers[':authority'] !== undefined ? { ':authority': authority } : {}) };
    const copy: OwnRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers };
    const client = req.httpVersionMajor >= 2 ? 'h2' : 'h1';
    shadow(deps, config, copy, client, m, body, d.timeoutMs).then(
      (outcome) => deps.metrics.mirrors.inc(outcome),
      (err: unknown) => deps.log.warn({ err, mirror: m.host }, 'mirror request failed unexpectedly'),
    );
  }
}

/** One copy; resolves with how it ended, never rejects on upstream trouble. */
async function shadow(
  deps: MirrorDeps,
  config: WaypointConfig,
  copy: OwnRequest,
  client: UpstreamProtocol,
  m: MirrorTarget,
  body: RequestBody,
  timeoutMs: number,
): Promise<MirrorOutcome> {
  const policy = config.routes.policyFor(m.host, m.subset, m.port);
  const name = policy?.cluster ?? clusterName(m.host, m.subset, m.port);
  if (!policy) return { cluster: name, outcome: 'no_cluster' };
  if (!body.replayable) return { cluster: name, outcome: 'body_not_buffered' };
  const cluster = deps.clusters.for(policy);
  const endpoints = clusterEndpoints(deps.clusters, cluster, policy, config.endpoints(m.host, m.port));
  const ep = pickEndpoint(cluster, endpoints, { request: { headers: copy.headers, path: copy.url } });
  if (!ep) return { cluster: name, outcome: 'no_endpoint' };
  const request = cluster.breaker.tryAcquire('request');
  if (typeof request !== 'function') return { cluster: name, outcome: 'overflow' };
  let held = true;
  try {
    const slot = cluster.pool.acquire(config.upstream(ep)!, upstreamProtocol(policy.connectionPool, client));
    if (typeof slot === 'string') return { cluster: name, outcome: 'overflow' };
    const lease = slot.kind === 'waiting' ? await slot.granted : slot;
    const t = deps.upstreams.send(lease, copy, body);
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
