/**
 * The waypoint's HTTP port (--metrics, 127.0.0.1:15021 by default):
 * /metrics for Prometheus, /healthz/ready for its daemon, /tunnels for the
 * daemon's report, and /tap, `ambit tap`'s stream of finished requests as
 * NDJSON (one TapEvent per line) while the client stays connected. /tap
 * reveals callers, paths and routes, so it answers loopback clients only, even
 * when the port is bound wider for a central Prometheus.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WaypointServer } from './server.js';
import type { TapFilter } from './tap.js';

/** The most records one /tap request may ask for (its `max`); the CLI's --max is bounded the same. */
export const TAP_MAX = 100_000;

export function waypointAdminHandler(server: WaypointServer) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://waypoint');
    switch (url.pathname) {
      case '/healthz/ready':
        return void res.end('ok');
      case '/tunnels':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(server.tunnels()));
      case '/metrics':
      case '/stats/prometheus':
        return void server.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': server.metrics.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      case '/tap':
        return tap(server, url, req, res);
      default:
        return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', paths: ['/metrics', '/healthz/ready', '/tunnels', '/tap'] }));
    }
  };
}

const isLoopback = (a: string | undefined) => a !== undefined && (a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.'));

function tap(server: WaypointServer, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const fail = (status: number, error: string) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
  if (!isLoopback(req.socket.remoteAddress)) return fail(403, '/tap answers loopback clients only: run ambit tap on the waypoint\'s node');
  const p = url.searchParams;
  const max = p.has('max') ? Number(p.get('max')) : TAP_MAX;
  if (!Number.isInteger(max) || max < 1 || max > TAP_MAX) return fail(400, `max ${JSON.stringify(p.get('max'))}: a whole number from 1 to ${TAP_MAX}`);
  const status = p.get('status') ?? undefined;
  if (status !== undefined && !/^([1-5]xx|[0-9]{1,3})$/i.test(status)) return fail(400, `status ${JSON.stringify(status)}: a code (404) or a class (5xx)`);
  const filter: TapFilter = {};
  for (const k of ['service', 'path', 'method'] as const) {
    const v = p.get(k);
    if (v !== null) filter[k] = k === 'method' ? v.toUpperCase() : v;
  }
  if (status !== undefined) filter.status = status.toLowerCase();
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const sub = server.tap.subscribe(filter, max, {
    write: (event) => res.write(`${JSON.stringify(event)}\n`),
    end: () => res.end(),
  });
  res.on('drain', () => sub.resume());
  res.once('close', () => sub.unsubscribe());
}
