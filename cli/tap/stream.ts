/**
 * The client side of a proxy's /tap (core/telemetry/tap-http.ts): one GET on
 * loopback, its NDJSON body read line by line into events until the proxy
 * ends it (its max reached), --duration passes, or the user interrupts.
 */
import { request } from 'node:http';
import type { TapEvent } from '../../core/telemetry/tap-hub.js';
import { MonitorError } from '../stat/errors.js';

export interface TapTarget {
  port: number;
  /** For messages: which proxy, on which node. */
  describe: string;
  query: Record<string, string>;
}

/** Calls `onEvent` for each line until the stream ends, `durationMs` passes, or `stop` resolves. */
export function readTap<R>(target: TapTarget, durationMs: number, onEvent: (e: TapEvent<R>) => void, stop: Promise<void>): Promise<void> {
  const path = `/tap?${new URLSearchParams(target.query).toString()}`;
  return new Promise((resolve, reject) => {
    let stopped = false;
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
          if (line.trim() !== '') onEvent(JSON.parse(line) as TapEvent<R>);
        }
      });
      res.on('close', finish);
    });
    const end = () => {
      stopped = true;
      req.destroy();
    };
    const timer = setTimeout(end, durationMs);
    void stop.then(end);
    function finish(): void {
      clearTimeout(timer);
      resolve();
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (stopped) return resolve();
      reject(
        new MonitorError(
          'ETAP_UNREACHABLE',
          `${target.describe} did not answer at 127.0.0.1:${target.port} (${err.code ?? err.message}): is it running on this host?`,
          { port: target.port },
        ),
      );
    });
    req.end();
  });
}
