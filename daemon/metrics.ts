/**
 * ambitd's Prometheus metrics. Connection and byte counters use Istio's names
 * and its full label set (istio_tcp_*, labels from core/telemetry/labels.ts),
 * so existing Istio dashboards and alerts work on ambit; daemon internals are
 * ambit_*. One registry per daemon instance, so
 * tests can run several daemons in one process.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { hboneRefusalCounters } from '../core/identity/revocation/peer-metrics.js';
import { TCP_LABELS } from '../core/telemetry/labels.js';
import { countTcpClosed, countTcpOpened, type TcpCounters, type TcpSeries } from '../core/telemetry/tcp-series.js';

/** What ambit_cert_expiry_seconds needs of a certificate (core/identity/client CertStatus has it). */
export interface CertExpiry {
  spiffeId: string;
  remainingSeconds?: number;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly connectionsOpened = this.#counter('istio_tcp_connections_opened_total', 'TCP connections opened', TCP_LABELS);
  readonly connectionsClosed = this.#counter('istio_tcp_connections_closed_total', 'TCP connections closed', TCP_LABELS);
  // Istio's meaning, the same for both reporters: received is the request's direction, sent the response's.
  readonly bytesSent = this.#counter('istio_tcp_sent_bytes_total', 'Bytes from the destination back to the client (the response)', TCP_LABELS);
  readonly bytesReceived = this.#counter('istio_tcp_received_bytes_total', 'Bytes from the client toward the destination (the request)', TCP_LABELS);
  readonly authzDenials = this.#counter('ambit_authz_denials_total', 'Connections refused by AuthorizationPolicy or PeerAuthentication', [
    'destination_service',
    'source_principal',
    'policy',
    'reason',
  ]);
  /** MeshTracer's drops (core/telemetry/tracing/bounded-export.ts), under the waypoint's name for them. */
  readonly spansDropped = this.#counter(
    'ambit_trace_spans_dropped_total',
    'Finished spans not delivered to a tracing provider, by why: queue_full, export_failed, export_timeout, exporter_busy, shutdown',
    ['provider', 'reason'],
  );
  /** `ambit tap` records a slow subscriber missed (core/telemetry/tap-hub.ts). */
  readonly tapDropped = this.#counter(
    'ambit_tap_dropped_total',
    'Closed connections not sent to an ambit tap subscriber because it had fallen too far behind',
    [],
  );
  readonly connectFailures = this.#counter('ambit_upstream_connect_failures_total', 'Failed connections to a local service or a peer node', [
    'direction',
    'reason',
  ]);
  readonly #refusals = hboneRefusalCounters(this.registry);
  readonly tlsHandshakeFailures = this.#refusals.tlsHandshakeFailures;
  readonly peersRevoked = this.#refusals.peersRevoked;
  readonly connectionLimitRefusals = this.#counter(
    'ambit_connection_limit_refusals_total',
    "Inbound connections refused because their source already held as many to the workload as its service's ConnectionLimit allows",
    ['destination_service', 'source_principal', 'policy', 'transport', 'reason'],
  );
  readonly refusedAuthorities = this.#counter('ambit_inbound_refused_total', 'HBONE streams refused because the target is not a workload on this node', [
    'reason',
  ]);
  readonly tunnelSessions = this.#gauge('ambit_tunnel_sessions', 'Open HBONE sessions (pooled TLS connections) from this node', ['direction']);
  readonly tunnelStreams = this.#gauge('ambit_tunnel_streams', 'Open HBONE streams on this node', ['direction']);
  readonly sessionsLost = this.#counter('ambit_tunnel_sessions_lost_total', 'HBONE sessions destroyed because the peer stopped answering PINGs', [
    'direction',
    'reason',
  ]);
  readonly upstreamSockets = this.#gauge('ambit_inbound_upstream_sockets', 'Sockets from inbound HBONE streams to local services, from dial to close', []);
  readonly inboundStreamsOpen = this.#gauge('ambit_inbound_streams_open', 'HTTP/2 streams held by inbound HBONE, answered or not', []);
  readonly handshakesPending = this.#gauge('ambit_inbound_handshakes_pending', 'Connections to 15008 accepted and not yet through TLS and SETTINGS', []);
  readonly dnsQueries = this.#counter('ambit_dns_queries_total', 'DNS queries answered by the mesh DNS proxy', ['type', 'result']);
  readonly configRevision = this.#gauge('ambit_config_revision', 'Store revision of the config snapshot in use', []);
  readonly configRejections = this.#counter('ambit_config_snapshots_rejected_total', 'Config snapshots refused whole (the previous one kept serving)', [
    'reason',
  ]);
  readonly configInvalidResources = this.#gauge(
    'ambit_config_invalid_resources',
    'Stored resources of the snapshot in use that failed their schema and were left out',
    [],
  );
  readonly storeConnected = this.#gauge('ambit_store_connected', '1 while the store (Redis) is reachable', []);
  readonly storeResyncs = this.#counter('ambit_store_resyncs_total', 'Full snapshot reloads after a gap or reconnect', []);
  readonly waypoints = this.#gauge('ambit_waypoints', 'Waypoints this daemon runs for services attached on this node', []);
  readonly waypointRestarts = this.#counter('ambit_waypoint_restarts_total', 'Waypoint processes that exited unexpectedly and were restarted', ['service']);
  #certs: () => readonly CertExpiry[] = () => [];
  /** Read from the certificates held at each scrape (certExpiryFrom), so it never lags a renewal; a pending certificate has none. */
  readonly certExpiry: Gauge<'identity'> = new Gauge({
    name: 'ambit_cert_expiry_seconds',
    help: 'Seconds until a workload or node certificate expires',
    labelNames: ['identity'],
    registers: [this.registry],
    collect: () => {
      this.certExpiry.reset();
      for (const c of this.#certs()) if (c.remainingSeconds !== undefined) this.certExpiry.set({ identity: c.spiffeId }, c.remainingSeconds);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ambitd_' });
  }

  readonly #tcp: TcpCounters = { opened: this.connectionsOpened, closed: this.connectionsClosed, sent: this.bytesSent, received: this.bytesReceived };

  /** A connection opened: counted on its series (core/telemetry/tcp-series.ts), unless the Telemetry API disabled the metric. */
  tcpOpened(series: TcpSeries): void {
    countTcpOpened(this.#tcp, series);
  }

  /** It closed, having carried `toDestination` bytes from the client and `fromDestination` back. */
  tcpClosed(series: TcpSeries, toDestination: number, fromDestination: number): void {
    countTcpClosed(this.#tcp, series, toDestination, fromDestination);
  }

  /** Where ambit_cert_expiry_seconds reads the certificates from (the daemon's identity). */
  certExpiryFrom(certs: () => readonly CertExpiry[]): void {
    this.#certs = certs;
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
