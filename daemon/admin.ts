/**
 * The daemon's two HTTP endpoints: admin on 127.0.0.1:15000 (config_dump,
 * tunnels, certs, workloads, logging level, /tap for `ambit tap` — local only, it reveals topology)
 * and metrics on :15020 (/metrics for Prometheus, /healthz/ready for probes).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { serveTap } from '../core/telemetry/tap-http.js';
import { connectionFilter, type ConnectionTap } from './connection-tap.js';

export interface AdminSources {
  configDump(): unknown;
  tunnels(): unknown;
  certs(): unknown;
  workloads(): unknown;
  ready(): { ready: boolean; reasons: string[] };
  logger: Logger;
  /** Connections to this node's workloads, for `ambit tap` on a service without a waypoint. */
  tap?: ConnectionTap;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function adminHandler(sources: AdminSources) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://admin');
    switch (url.pathname) {
      case '/config_dump':
        return json(res, 200, sources.configDump());
      case '/tunnels':
        return json(res, 200, sources.tunnels());
      case '/certs':
        return json(res, 200, sources.certs());
      case '/workloads':
        return json(res, 200, sources.workloads());
      case '/logging': {
        const level = url.searchParams.get('level');
        if (level !== null) {
          if (req.method !== 'POST') return json(res, 405, { error: 'POST /logging?level=debug changes the level' });
          if (!LEVELS.has(level)) return json(res, 400, { error: `unknown level ${JSON.stringify(level)}; use one of ${[...LEVELS].join(', ')}` });
          sources.logger.level = level;
          sources.logger.info({ level }, 'log level changed through the admin API');
        }
        return json(res, 200, { level: sources.logger.level });
      }
      case '/healthz/ready':
        return ready(res, sources);
      case '/tap':
        if (sources.tap) return serveTap(sources.tap, url, req, res, connectionFilter);
        return json(res, 404, { error: 'this daemon has no tap' });
      default:
        return json(res, 404, { error: 'not found', paths: ['/config_dump', '/tunnels', '/certs', '/workloads', '/logging', '/healthz/ready', '/tap'] });
    }
  };
}

export function metricsHandler(registry: Registry, sources: Pick<AdminSources, 'ready'>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (path === '/healthz/ready') return ready(res, sources);
    if (path !== '/metrics' && path !== '/stats/prometheus') return json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz/ready'] });
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      (err: unknown) => json(res, 500, { error: (err as Error).message }),
    );
  };
}

function ready(res: ServerResponse, sources: Pick<AdminSources, 'ready'>): void {
  const state = sources.ready();
  json(res, state.ready ? 200 : 503, state);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** Listens and resolves once bound (port 0 picks a free port, for tests). */
export async function listenHttp(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host: string): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
