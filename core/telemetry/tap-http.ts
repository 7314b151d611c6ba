/**
 * A tap hub (tap-hub.ts) served over HTTP, the same for the waypoint's
 * metrics port and ambitd's admin port: GET /tap?service=…&max=…&<filter>
 * answers NDJSON, one TapEvent per line, for as long as the client stays (or
 * until `max` records). Taps reveal callers and what they asked for, so only
 * loopback clients are answered, whatever address the port is bound to.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TapFilterBase, TapHub } from './tap-hub.js';

/** The most records one /tap request may ask for; `ambit tap --max` is bounded the same. */
export const TAP_MAX = 100_000;

const isLoopback = (a: string | undefined) => a !== undefined && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));

/**
 * `filter` reads the proxy's own query parameters (service is read here): the
 * filter, or a message saying which parameter is wrong (answered 400).
 */
export function serveTap<R, F extends TapFilterBase>(
  hub: TapHub<R, F>,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  filter: (params: URLSearchParams) => Omit<F, 'service'> | string,
): void {
  const fail = (status: number, error: string) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
  if (req.method !== 'GET') return fail(405, 'GET /tap');
  if (!isLoopback(req.socket.remoteAddress)) return fail(403, "/tap answers loopback clients only: run ambit tap on the proxy's node");
  const p = url.searchParams;
  const max = p.has('max') ? Number(p.get('max')) : TAP_MAX;
  if (!Number.isInteger(max) || max < 1 || max > TAP_MAX) return fail(400, `max ${JSON.stringify(p.get('max'))}: a whole number from 1 to ${TAP_MAX}`);
  const own = filter(p);
  if (typeof own === 'string') return fail(400, own);
  const service = p.get('service');
  const f = { ...own, ...(service !== null ? { service } : {}) } as F;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const sub = hub.subscribe(f, max, {
    write: (event) => res.write(`${JSON.stringify(event)}\n`),
    end: () => res.end(),
  });
  res.on('drain', () => sub.resume());
  res.once('close', () => sub.unsubscribe());
}
