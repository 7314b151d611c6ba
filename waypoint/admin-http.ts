/**
 * The waypoint's HTTP port (--metrics, 127.0.0.1:15021 by default):
 * /metrics for Prometheus, /healthz/ready for its daemon, /tunnels for the
 * daemon's report, and /tap, `ambit tap`'s stream of finished requests as
 * NDJSON (core/telemetry/tap-http.ts: loopback clients only, even when the
 * port is bound wider for a central Prometheus).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveTap } from '../core/telemetry/tap-http.js';
import type { WaypointServer } from './server.js';
import type { RequestTapFilter } from './tap-filter.js';

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
        return serveTap(server.tap, url, req, res, requestFilter);
      default:
        return void res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'not found', paths: ['/metrics', '/healthz/ready', '/tunnels', '/tap'] }));
    }
  };
}

/** The waypoint's own /tap parameters: path (prefix), method, status (code or class). */
function requestFilter(p: URLSearchParams): RequestTapFilter | string {
  const f: RequestTapFilter = {};
  const status = p.get('status');
  if (status !== null) {
    if (!/^([1-5]xx|[0-9]{3})$/i.test(status)) return `status ${JSON.stringify(status)}: a code (404) or a class (5xx)`;
    f.status = status.toLowerCase();
  }
  const path = p.get('path');
  if (path !== null) f.path = path;
  const method = p.get('method');
  if (method !== null) f.method = method.toUpperCase();
  return f;
}
