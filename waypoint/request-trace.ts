/**
 * The waypoint's spans, as OTel's HTTP semantic conventions and Envoy name
 * their parts: one SERVER span per request (its parent the caller's span,
 * from traceparent or B3), one CLIENT span per upstream try, so a retry is a
 * second child of the same SERVER span, with the error of the try it
 * replaced on the first. Each try's own context goes upstream in the
 * request headers (W3C, plus B3 when the request came with B3) and on the
 * HBONE CONNECT that opens a connection for it, so the destination's
 * daemon can join the trace. Mesh facts are `ambit.*` attributes; the
 * request id is `guid:x-request-id`, as Envoy tags it.
 *
 * With tracing off, every function here returns before building anything.
 */
import type { Attributes } from '@opentelemetry/api';
import { writePropagationHeaders } from '../core/telemetry/tracing/propagation.js';
import type { ClientTrace, MeshTracer, ServerTrace } from '../core/telemetry/tracing/tracer.js';
import type { Caller } from './caller.js';
import type { Upstream } from './config.js';
import type { Exchange } from './exchange.js';
import type { ServiceView } from './mesh-view.js';
import type { DownstreamRequest } from './request-body.js';
import type { ForwardDecision } from '../core/routing/index.js';
import type { TryError } from './upstream.js';

type Headers = Record<string, string | string[] | undefined>;

/** The SERVER span of a request, or undefined with tracing off. Named as Istio's waypoint names it: `<service>:<port>/*`. */
export function startRequestTrace(
  tracer: MeshTracer,
  req: DownstreamRequest,
  x: Exchange,
  caller: Caller,
  service: ServiceView,
  port: number,
): ServerTrace | undefined {
  if (!tracer.enabled) return undefined;
  return tracer.startServer({ name: `${service.fqdn}:${port}/*`, headers: req.headers, attributes: () => requestAttributes(req, x, caller, port) });
}

/** What is known of a request when it arrives. */
export function requestAttributes(req: DownstreamRequest, x: Exchange, caller: Caller, port: number): Attributes {
  const h = req.headers as Headers;
  const authority = String(h[':authority'] ?? h.host ?? '');
  const { host, port: authorityPort } = splitAuthority(authority);
  const target = String(h[':path'] ?? req.url ?? '/');
  const q = target.indexOf('?');
  const out: Attributes = {
    'http.request.method': req.method ?? 'GET',
    'url.path': q < 0 ? target : target.slice(0, q),
    'url.scheme': 'http',
    'server.address': host,
    'server.port': authorityPort ?? port,
    'network.protocol.version': req.httpVersionMajor >= 2 ? '2' : req.httpVersion,
    'client.address': caller.address,
    'guid:x-request-id': x.requestId,
    'ambit.source_principal': caller.principal,
  };
  if (q >= 0) out['url.query'] = target.slice(q + 1);
  const ua = h['user-agent'];
  if (typeof ua === 'string') out['user_agent.original'] = ua;
  return out;
}

/** Ends the SERVER span with what the exchange learned; once, when the client's side closes. */
export function endRequestTrace(x: Exchange): void {
  x.trace?.end(() => outcomeAttributes(x), requestErrorType(x));
}

function outcomeAttributes(x: Exchange): Attributes {
  const out: Attributes = { 'ambit.response_flags': x.clientGone ? 'DC' : x.flag, 'ambit.attempts': x.attempts };
  if (x.status > 0) out['http.response.status_code'] = x.status;
  const d = x.decision;
  if (d) {
    out['ambit.destination_service'] = d.destination.host;
    if (d.routeName !== undefined) out['ambit.route_name'] = d.routeName;
    if (d.virtualService !== undefined) out['ambit.virtual_service'] = d.virtualService;
    if (d.destination.subset !== undefined) out['ambit.destination_subset'] = d.destination.subset;
    if (d.policy) out['ambit.upstream_cluster'] = d.policy.cluster;
  }
  if (x.upstream) out['ambit.destination_principal'] = x.upstream.identity;
  if (x.authzPolicy !== undefined) out['ambit.authz_policy'] = x.authzPolicy;
  return out;
}

/** OTel's error.type for a SERVER span: the status of a 5xx, or that the client left unanswered. */
export function requestErrorType(x: Pick<Exchange, 'status' | 'clientGone'>): string | undefined {
  if (x.status >= 500) return String(x.status);
  if (x.status === 0 && x.clientGone) return 'client_disconnected';
  return undefined;
}

/**
 * The CLIENT span of one try, started before its connection is checked out
 * (a dial is part of the try), and its context written into the request
 * headers every try sends. undefined with tracing off.
 */
export function startTryTrace(x: Exchange, req: DownstreamRequest, upstream: Upstream, d: ForwardDecision): ClientTrace | undefined {
  const server = x.trace;
  if (!server) return undefined;
  const attempt = x.attempts + 1;
  const c = server.startClient(`router ${d.policy?.cluster ?? d.destination.host} egress`, () => tryAttributes(req, upstream, d, attempt));
  writePropagationHeaders(req.headers, c.headers);
  return c;
}

function tryAttributes(req: DownstreamRequest, upstream: Upstream, d: ForwardDecision, attempt: number): Attributes {
  const out: Attributes = {
    'http.request.method': req.method ?? 'GET',
    'server.address': upstream.endpoint.address,
    'server.port': upstream.endpoint.port,
    'network.protocol.version': req.httpVersionMajor >= 2 ? '2' : req.httpVersion,
    'ambit.destination_principal': upstream.identity,
    'ambit.destination_service': upstream.service,
    'ambit.hbone_peer': `${upstream.peer.host}:${upstream.peer.port}`,
    'ambit.attempt': attempt,
  };
  if (d.policy) out['ambit.upstream_cluster'] = d.policy.cluster;
  if (d.destination.subset !== undefined) out['ambit.destination_subset'] = d.destination.subset;
  return out;
}

/** Ends a try's span: its response status, or why it had none (error.type, as upstream.ts names the failure). */
export function endTryTrace(c: ClientTrace | undefined, status: number | undefined, error: TryError | undefined): void {
  if (!c) return;
  if (status !== undefined) return c.end({ 'http.response.status_code': status }, status >= 400 ? String(status) : undefined);
  c.end({}, error ?? 'unknown');
}

/** A try that ended before a request was sent: no connection (an overflow, a timeout waiting for one, the client left). */
export function abandonTryTrace(c: ClientTrace | undefined, flag: string): void {
  c?.end({ 'ambit.response_flags': flag }, flag);
}

function splitAuthority(authority: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (!m) return { host: authority, port: undefined };
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] === undefined ? undefined : Number(m[2]) };
}
