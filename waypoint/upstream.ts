/**
 * One upstream try: the request (with its replayed body) goes to an endpoint
 * over the pooled connection the router leased for it, and the try ends
 * with the response head (the body is not read, so a retry can drop it and
 * the winner is streamed to the client) or a transport error.
 *
 * HTTP/1.1 goes through http-proxy-3 on an H1Connection; selfHandleResponse
 * keeps it from writing to the client, since whether a response is retried
 * or delivered is router.ts's decision. HTTP/2 opens a stream on the
 * endpoint's H2Connection. Either way the client may have spoken the other
 * version: headers are translated (h2-headers in headers.ts), and the
 * response comes back as one UpstreamResponse shape.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { ClientHttp2Stream, Http2ServerResponse, IncomingHttpHeaders as H2Headers, OutgoingHttpHeaders } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Lease } from './connection-pool.js';
import type { H1Connection } from './h1-connection.js';
import { CANCEL, REFUSED_STREAM, type H2Connection } from './h2-connection.js';
import { h2RequestHeaders, withoutPseudoHeaders } from './headers.js';
import type { DownstreamRequest, RequestBody } from './request-body.js';

/**
 * How a try failed without a response. `protocol`: the endpoint answered
 * with something that is not HTTP. `reset-before-request`: a reused
 * connection turned out closed before the request was written on it.
 */
export type TryError = 'connect-failure' | 'reset' | 'refused-stream' | 'timeout' | 'protocol' | 'reset-before-request';

/** An endpoint's response, whichever HTTP version carried it. */
export interface UpstreamResponse {
  statusCode: number;
  /** Without HTTP/2 pseudo-headers. */
  headers: IncomingHttpHeaders;
  body: Readable;
  /** What the endpoint sent after the body (chunked HTTP/1.1 or HTTP/2 trailers); complete once `body` ended. */
  trailers(): Record<string, string | string[] | undefined>;
  /** Drops the response (and with HTTP/1.1, its connection). */
  destroy(): void;
}

export type TryResult = { response: UpstreamResponse; error?: undefined } | { response?: undefined; error: TryError; cause?: Error };

/** How an upgrade ended at the endpoint: its status (101: spliced from now on; else relayed to the client as is), or a transport error. */
export type UpgradeResult = { kind: 'answered'; status: number } | { kind: 'failed'; error: TryError; cause?: Error };

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

/** A request the waypoint makes itself: what the endpoint should see (`headers` carry Host or :authority). */
export interface OwnRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface UpstreamTry {
  result: Promise<TryResult>;
  /** Ends the try now with `error` (per-try or route timeout, client gone). */
  abort(error: TryError): void;
}

interface Pending {
  proxyReq: ClientRequest | undefined;
  settle: (r: TryResult) => void;
  settled: () => boolean;
}

export class Upstreams {
  readonly #proxy: ProxyServer;
  // http-proxy-3 reports proxyReq/proxyRes on the server, keyed by the
  // downstream request; a request has at most one try in flight.
  readonly #pending = new WeakMap<object, Pending>();
  readonly #upgrades = new WeakMap<object, { conn: H1Connection; resolve: (r: UpgradeResult) => void }>();

  constructor() {
    this.#proxy = createProxyServer({ xfwd: false, changeOrigin: false, selfHandleResponse: true });
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const p = this.#pending.get(req);
      if (!p) return;
      if (p.settled()) proxyReq.destroy();
      else p.proxyReq = proxyReq;
    });
    this.#proxy.on('proxyRes', (proxyRes, req) => {
      const p = this.#pending.get(req);
      if (!p || p.settled()) return void proxyRes.destroy();
      p.settle({ response: h1Response(proxyRes) });
    });
    // A client reset during a try: router.ts sees the response close and aborts the try.
    this.#proxy.on('econnreset', () => undefined);
    this.#proxy.on('proxyReqWs', (proxyReq, req) => {
      const u = this.#upgrades.get(req);
      if (!u) return;
      proxyReq.once('upgrade', () => {
        // The connection is the WebSocket's now; it closes with it and is never pooled again.
        u.conn.draining = true;
        u.resolve({ kind: 'answered', status: 101 });
      });
      proxyReq.once('response', (res) => u.resolve({ kind: 'answered', status: res.statusCode ?? 502 }));
    });
  }

  try(req: DownstreamRequest, res: DownstreamResponse, lease: Lease, body: RequestBody): UpstreamTry {
    return lease.conn.protocol === 'h2' ? tryH2(lease, h2RequestHeaders(req), body, req) : this.#tryH1(req, res, lease, body.replay());
  }

  /**
   * A request of the waypoint's own, not tied to a client response (a
   * mirror's copy): sent as `request` describes it, body replayed.
   */
  send(lease: Lease, request: OwnRequest, body: RequestBody): UpstreamTry {
    return lease.conn.protocol === 'h2' ? tryH2(lease, h2RequestHeaders(request), body, undefined) : sendH1(lease, request, body);
  }

  /** An HTTP/1.1 Upgrade over the leased connection; on 101 http-proxy-3 splices client and endpoint. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, lease: Lease): Promise<UpgradeResult> {
    const conn = lease.conn as H1Connection;
    const target = { host: conn.upstream.endpoint.address, port: conn.upstream.endpoint.port };
    return new Promise((resolve) => {
      this.#upgrades.set(req, { conn, resolve });
      this.#proxy.ws(req, socket, head, { target, agent: conn.agent() as never }, (err) => {
        resolve({ kind: 'failed', error: classify(err), cause: err });
      });
    });
  }

  #tryH1(req: DownstreamRequest, res: DownstreamResponse, lease: Lease, body: Readable | undefined): UpstreamTry {
    const conn = lease.conn as H1Connection;
    const target = { host: conn.upstream.endpoint.address, port: conn.upstream.endpoint.port };
    const { result, settle, settled } = firstOutcome();
    const pending: Pending = { proxyReq: undefined, settle, settled };
    this.#pending.set(req, pending);
    this.#proxy.web(req as IncomingMessage, res as ServerResponse, { target, agent: conn.agent() as never, buffer: body }, (err) => {
      const error = lease.reused && !conn.requestSent ? 'reset-before-request' : classify(err);
      pending.settle({ error, cause: err });
    });
    return {
      result,
      abort: (error) => {
        pending.settle({ error });
        pending.proxyReq?.destroy();
      },
    };
  }
}

function classify(err: NodeJS.ErrnoException): TryError {
  if (err.code === 'EWAYPOINT_CONNECT') return 'connect-failure';
  if (err.code?.startsWith('HPE_')) return 'protocol';
  return 'reset';
}

/** A try's result, settled by whichever of its racing outcomes (response, error, abort) comes first. */
function firstOutcome(): { result: Promise<TryResult>; settle: (r: TryResult) => void; settled: () => boolean } {
  let done = false;
  let resolve!: (r: TryResult) => void;
  const result = new Promise<TryResult>((r) => (resolve = r));
  const settle = (r: TryResult): void => {
    if (done) return;
    done = true;
    resolve(r);
  };
  return { result, settle, settled: () => done };
}

const h1Response = (m: IncomingMessage): UpstreamResponse => ({
  statusCode: m.statusCode ?? 502,
  headers: m.headers,
  body: m,
  trailers: () => m.trailers,
  destroy: () => m.destroy(),
});

function h2Response(stream: ClientHttp2Stream, head: H2Headers): UpstreamResponse {
  let trailers: Record<string, string | string[] | undefined> = {};
  stream.once('trailers', (t: H2Headers) => (trailers = withoutPseudoHeaders(t)));
  return {
    statusCode: Number(head[':status']),
    headers: withoutPseudoHeaders(head),
    body: stream,
    trailers: () => trailers,
    destroy: () => void (stream.closed || stream.close(CANCEL)),
  };
}

/** One request as an HTTP/2 stream on the endpoint's session; a body that was not buffered streams from `source`. */
function tryH2(lease: Lease, headers: OutgoingHttpHeaders, body: RequestBody, source: Readable | undefined): UpstreamTry {
  const conn = lease.conn as H2Connection;
  let stream: ClientHttp2Stream | undefined;
  const { result, settle, settled } = firstOutcome();
  conn.request(headers, body.empty).then(
    (s) => {
      stream = s;
      if (settled()) return void s.close(CANCEL);
      s.once('response', (head) => settle({ response: h2Response(s, head) }));
      s.on('error', (err: Error) => settle({ error: s.rstCode === REFUSED_STREAM ? 'refused-stream' : 'reset', cause: err }));
      // Reset or ended without a response head.
      s.once('close', () => settle({ error: s.rstCode === REFUSED_STREAM ? 'refused-stream' : 'reset' }));
      if (body.empty) return;
      const from = body.replay() ?? source;
      if (from) from.pipe(s);
      else s.end();
    },
    (err: NodeJS.ErrnoException) => {
      settle({ error: err.code === 'EWAYPOINT_CONNECT' ? 'connect-failure' : 'reset-before-request', cause: err });
    },
  );
  return {
    result,
    abort: (error) => {
      settle({ error });
      if (stream && !stream.closed) stream.close(CANCEL);
    },
  };
}

/** One request of the waypoint's own on an HTTP/1.1 connection, with node:http directly (http-proxy-3 needs a client request to proxy). */
function sendH1(lease: Lease, own: OwnRequest, body: RequestBody): UpstreamTry {
  const conn = lease.conn as H1Connection;
  const { result, settle } = firstOutcome();
  const out = httpRequest(
    {
      agent: conn.agent() as never,
      host: conn.upstream.endpoint.address,
      port: conn.upstream.endpoint.port,
      method: own.method,
      path: own.url,
      headers: withoutPseudoHeaders(own.headers),
    },
    (res) => settle({ response: h1Response(res) }),
  );
  out.on('error', (err: NodeJS.ErrnoException) => settle({ error: lease.reused && !conn.requestSent ? 'reset-before-request' : classify(err), cause: err }));
  const from = body.replay();
  if (from) from.pipe(out);
  else out.end();
  return {
    result,
    abort: (error) => {
      settle({ error });
      out.destroy();
    },
  };
}
