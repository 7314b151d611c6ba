/**
 * The accounting of one proxied TCP connection that ambitd dials itself (an
 * outbound hop, the same-node shortcut, inbound plaintext): opened, closed and
 * bytes counted against one labels object built when it opened, and one log
 * line when it ends. Tunnelled inbound streams are counted by inbound.ts from
 * the HBONE server's events instead.
 */
import type { Logger } from 'pino';
import type { TcpLabels } from '../core/telemetry/labels.js';
import type { MemoryRelease } from './memory-release.js';
import type { DaemonMetrics } from './metrics.js';

export interface AccountDeps {
  metrics: DaemonMetrics;
  /** Told of every closed connection, to give memory back after a burst. */
  memory?: MemoryRelease | undefined;
  log: Logger;
}

/** Counts a connection as opened; the returned callback counts and logs its close. */
export function accountConnection(
  deps: AccountDeps,
  labels: TcpLabels,
  fields: Record<string, unknown>,
  message: string,
): (sent: number, received: number, error: unknown) => void {
  const { metrics, log } = deps;
  metrics.connectionsOpened.inc(labels);
  const started = Date.now();
  return (sent, received, error) => {
    deps.memory?.connectionClosed();
    metrics.connectionsClosed.inc(labels);
    metrics.bytesSent.inc(labels, sent);
    metrics.bytesReceived.inc(labels, received);
    log.info({ ...fields, sent, received, durationMs: Date.now() - started, error }, message);
  };
}
