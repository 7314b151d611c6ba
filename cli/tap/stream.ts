/**
 * The client side of a waypoint's /tap (waypoint/admin-http.ts): one GET on
 * loopback, its NDJSON body read line by line into events until the waypoint
 * ends it (its max reached), --duration passes, or the user interrupts.
 */
import { request } from 'node:http';
import { MonitorError } from '../stat/errors.js';

/** A finished request as the waypoint logs it (waypoint/access-log.ts AccessLogEntry; the CLI does not import waypoint/). */
export interface TappedRequest {
  start_time: string;
  method: string;
  path: string;
  authority: string;
  response_code: number;
  response_flags: string;
  duration_ms: number;
  upstream_host?: string;
  upstream_cluster?: string;
  route_name?: string;
  source_principal: string;
  destination_service: string;
  [field: string]: unknown;
}

export type TapEvent = { request: TappedRequest } | { dropped: number };

export interface TapTarget {
  port: number;
  /** For messages: which waypoint, on which node. */
  describe: string;
  query: Record<string, string>;
}

/** Calls `onEvent` for each line until the stream ends, `durationMs` passes, or `stop` resolves. */
export function readTap(target: TapTarget, durationMs: number, onEvent: (e: TapEvent) => void, stop: Promise<void>): Promise<void> {
  const path = `/tap?${new URLSearchParams(target.query)}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: target.port, path, agent: false, headers: { accept: 'application/x-ndjson' } }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => reject(new MonitorError('ETAP_UNREACHABLE', `${target.describe} refused the tap: HTTP ${res.statusCode} ${text.trim()}`)));
        return;
      }
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '') onEvent(JSON.parse(line) as TapEvent);
        }
      });
      res.on('end', finish);
      res.on('close', finish);
    });
    const timer = setTimeout(() => req.destroy(), durationMs);
    void stop.then(() => req.destroy());
    function finish(): void {
      clearTimeout(timer);
      resolve();
    }
    req.on('error', (err) => {
      clearTimeout(timer);
      if (req.destroyed && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return resolve();
      reject(
        new MonitorError(
          'ETAP_UNREACHABLE',
          `${target.describe} did not answer at 127.0.0.1:${target.port} (${(err as NodeJS.ErrnoException).code ?? err.message}): is it running on this host?`,
          { port: target.port },
        ),
      );
    });
    req.on('close', finish);
    req.end();
  });
}

/** One line per request, in linkerd tap's spirit: when, who, what, how it ended, where it went. */
export function renderTapLine(r: TappedRequest): string {
  const source = r.source_principal.replace(/^spiffe:\/\/[^/]+\//, '') || 'unknown';
  const fields = [
    r.start_time,
    `src=${source}`,
    `:method=${r.method}`,
    `:authority=${r.authority}`,
    `:path=${r.path}`,
    `:status=${r.response_code}`,
    `latency=${r.duration_ms}ms`,
    `route=${r.route_name ?? '-'}`,
    `upstream=${r.upstream_cluster ?? '-'}`,
    `flags=${r.response_flags}`,
  ];
  return fields.join(' ');
}
