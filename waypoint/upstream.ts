/**
 * One upstream try through http-proxy-3: the request (with its replayed body)
 * goes to an endpoint over a pooled HTTP/1.1 connection (h1-connection.ts)
 * the router leased for it, and the try ends with the response head (the
 * body is not read, so a retry can drop it and the winner is streamed to the
 * client) or a transport error. selfHandleResponse keeps http-proxy-3 from
 * writing to the client: whether a response is retried or delivered is
 * forward.ts's decision.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Readable } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Lease } from './connection-pool.js';
import type { H1Connection } from './h1-connection.js';
import type { DownstreamRequest } from './request-body.js';

/**
 * How a try failed without a response. `protocol`: the endpoint answered
 * with something that is not HTTP. `reset-before-request`: a reused
 * connection turned out closed before the request was written on it.
 */
export type TryError = 'connect-failure' | 'reset' | 'timeout' | 'protocol' | 'reset-before-request';

export type TryResult = { response: IncomingMessage; error?: undefined } | { response?: undefined; error: TryError; cause?: Error };

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

export interface UpstreamTry {
  result: Promise<TryResult>;
  /** Ends the try now with `error` (per-try or route timeout, client gone). */
  abort(error: TryError): void;
}

interface Pending {
  proxyReq: ClientRequest | undefined;
  settle: (r: TryResult) => void;
  settled: boolean;
}

export class Upstreams {
  readonly #proxy: ProxyServer;
  // http-proxy-3 reports proxyReq/proxyRes on the server, keyed by the
  // downstream request; a request has at most one try in flight.
  readonly #pending = new WeakMap<object, Pending>();

  constructor() {
    this.#proxy = createProxyServer({ xfwd: false, changeOrigin: false, selfHandleResponse: true });
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const p = this.#pending.get(req);
      if (!p) return;
      if (p.settled) proxyReq.destroy();
      else p.proxyReq = proxyReq;
    });
    this.#proxy.on('proxyRes', (proxyRes, req) => {
      const p = this.#pending.get(req);
      if (!p || p.settled) return void proxyRes.destroy();
      p.settle({ response: proxyRes });
    });
    // A client reset during a try: forward.ts sees the response close and aborts the try.
    this.#proxy.on('econnreset', () => undefined);
  }

  try(req: DownstreamRequest, res: DownstreamResponse, lease: Lease, body: Readable | undefined): UpstreamTry {
    const conn = lease.conn as H1Connection;
    const target = { host: conn.upstream.endpoint.address, port: conn.upstream.endpoint.port };
    let settle!: (r: TryResult) => void;
    const result = new Promise<TryResult>((resolve) => (settle = resolve));
    const pending: Pending = {
      proxyReq: undefined,
      settled: false,
      settle: (r) => {
        if (pending.settled) return;
        pending.settled = true;
        settle(r);
      },
    };
    this.#pending.set(req, pending);
    this.#proxy.web(req as IncomingMessage, res as ServerResponse, { target, agent: conn.agent() as never, buffer: body }, (err) => {
      const error = lease.reused && !conn.requestSent ? 'reset-before-request' : classify(err as NodeJS.ErrnoException);
      pending.settle({ error, cause: err as Error });
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
