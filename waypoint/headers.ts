/**
 * Header handling between client and endpoint: the route's header
 * operations (in the order routing/ computed), and the hop-by-hop headers
 * that belong to one connection and must not cross the proxy (HTTP/2 forbids
 * them outright, so an h2c client would get a protocol error).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { DownstreamRequest } from './request-body.js';
import type { ForwardDecision, HeaderOp } from '../core/routing/index.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings']);

type Headers = Record<string, string | string[] | number | undefined>;

/**
 * Request headers that belong to the client's connection. Transfer-Encoding
 * stays: node:http frames an HTTP/1.1 body by it, and the HTTP/2 path
 * drops it itself.
 */
const REQUEST_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'http2-settings'];

/** Removes the client's hop-by-hop request headers, those its Connection header names included; `te: trailers` stays. */
export function stripHopByHop(headers: Headers): void {
  for (const name of listedIn(headers.connection)) if (name !== 'transfer-encoding') delete headers[name];
  for (const name of REQUEST_HOP_BY_HOP) delete headers[name];
  if (headers.te !== undefined && String(headers.te).trim().toLowerCase() !== 'trailers') delete headers.te;
}

const listedIn = (connection: Headers[string]): string[] =>
  String(connection ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function applyHeaderOps(headers: Headers, ops: readonly HeaderOp[]): void {
  for (const { op, name, value } of ops) {
    if (op === 'remove') delete headers[name];
    else if (op === 'set') headers[name] = value;
    else {
      const cur = headers[name];
      headers[name] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [String(cur), value];
    }
  }
}

/** The endpoint's response headers as the client should get them, after the route's response operations. */
export function responseHeaders(upstream: IncomingHttpHeaders, ops: readonly HeaderOp[]): OutgoingHttpHeaders {
  const out: Headers = {};
  const listed = listedIn(upstream.connection);
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.includes(name)) continue;
    out[name] = value;
  }
  applyHeaderOps(out, ops);
  return out;
}

/** Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority. */
const NOT_IN_H2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** The request as HTTP/2 headers for the endpoint, from a client that spoke either version (after the route's edits). */
export function h2RequestHeaders(req: Pick<DownstreamRequest, 'method' | 'url' | 'headers'>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':') || NOT_IN_H2.has(name)) continue;
    if (name === 'te' && String(value).toLowerCase() !== 'trailers') continue;
    out[name] = value;
  }
  const h = req.headers as Record<string, string | string[] | undefined>;
  out[':method'] = req.method ?? 'GET';
  out[':path'] = String(h[':path'] ?? req.url ?? '/');
  out[':authority'] = String(h[':authority'] ?? h.host ?? '');
  out[':scheme'] = 'http';
  return out;
}

/** HTTP/2 headers or trailers without the pseudo-headers (:status and friends). */
export function withoutPseudoHeaders<T extends Record<string, unknown>>(headers: T): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) out[name] = value as string | string[] | undefined;
  return out;
}

/** Envoy's shadow authority: `-shadow` after the host, before any port (`reviews:9080` -> `reviews-shadow:9080`). */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || colon < authority.lastIndexOf(']')) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

/** The request as the endpoint is to see it, made once before the first try: every try and mirror copy sends the same. */
export function prepareUpstreamRequest(req: DownstreamRequest, d: ForwardDecision, upgrade: boolean): void {
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
