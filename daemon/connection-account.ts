/**
 * The accounting of one connection ambitd proxies: opened, closed and bytes
 * counted on the series worked out when it opened (labels built then, and the
 * Telemetry API's metric overrides of the workload it reports for,
 * core/telemetry/tcp-series.ts), and one access-log line when it ends, if
 * that workload's accessLogging keeps it (on/off and the filter), with the
 * trace id of the connection's span when it has one. Outbound hops, the
 * same-node shortcut and inbound plaintext account here; tunnelled inbound
 * streams too, from the HBONE server's events (inbound.ts).
 */
import type { Logger } from 'pino';
import type { CompiledTelemetry } from '../core/telemetry/compiled.js';
import type { TcpLabels } from '../core/telemetry/labels.js';
import { tcpAttributes, tcpSeries } from '../core/telemetry/tcp-series.js';
import type { MemoryRelease } from './memory-release.js';
import type { DaemonMetrics } from './metrics.js';

export interface AccountDeps {
  metrics: DaemonMetrics;
  /** Told of every closed connection, to give memory back after a burst. */
  memory?: MemoryRelease | undefined;
  log: Logger;
}

export interface OpenedConnection {
  labels: TcpLabels;
  /** The reported workload's telemetry (daemon/workload-telemetry.ts); absent: every metric and line, unchanged. */
  telemetry: CompiledTelemetry | undefined;
  /** Whether the connection is mutual TLS (the expression subset's connection.mtls). */
  mtls: boolean;
  fields: Record<string, unknown>;
  message: string;
  /** The trace of the connection's span (tunnel-tracing.ts), sampled or not; absent with tracing off. */
  traceId?: string | undefined;
}

/** Told how a connection ended: the bytes of each direction, and the error if it failed. */
export type ConnectionClosed = (toDestination: number, fromDestination: number, error: unknown) => void;

/** Counts a connection as opened; the returned callback counts its close and logs it. */
export function accountConnection(deps: AccountDeps, c: OpenedConnection): ConnectionClosed {
  const { metrics, log } = deps;
  const attrs = tcpAttributes(c.mtls);
  const series = tcpSeries(c.labels, c.telemetry, attrs);
  metrics.tcpOpened(series);
  const started = Date.now();
  return (toDestination, fromDestination, error) => {
    deps.memory?.connectionClosed();
    metrics.tcpClosed(series, toDestination, fromDestination);
    if (c.telemetry && !c.telemetry.logs(() => attrs)) return;
    log.info(
      {
        ...c.fields,
        bytesToDestination: toDestination,
        bytesFromDestination: fromDestination,
        durationMs: Date.now() - started,
        error,
        ...(c.traceId !== undefined ? { trace_id: c.traceId } : {}),
      },
      c.message,
    );
  };
}
