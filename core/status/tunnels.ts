/**
 * What a daemon reports about its tunnels: served on its admin API (/tunnels)
 * and published to the store every few seconds for `ambit tunnels`. The daemon
 * writes this shape and the CLI reads it, so it lives here once; the CLI reads
 * it from the store, which is not trusted, so reading goes through the schema.
 * Fields a newer daemon adds are dropped rather than refused: nodes of a mesh
 * are upgraded one at a time.
 */
import type { TunnelInfo } from '../hbone/client.js';
import type { CertStatus } from '../identity/client/cert-manager.js';
import { array, bool, enumOf, int, number, object, record, req, string, type Schema } from '../config/schema.js';

/** A tunnel as reported: JSON has no `undefined`, so an unverified server identity is simply absent. */
export type TunnelReport = Omit<TunnelInfo, 'serverIdentity'> & { serverIdentity?: string };

export interface PeerTraffic {
  streams: number;
  bytesIn: number;
  bytesOut: number;
}

export interface InboundReport {
  sessionsActive: number;
  streamsActive: number;
  streamsTotal: number;
  handshakeFailures: number;
  /** HTTP/2 streams held, answered or not (absent from daemons before issue 13). */
  streamsOpen?: number;
  /** Sockets to local services, from dial to close. */
  upstreamSockets?: number;
  /** Connections accepted and not yet through TLS and SETTINGS. */
  handshakesPending?: number;
  /** handshakeFailures by code (EHBONE_HANDSHAKE_TIMEOUT, EHBONE_HANDSHAKE_LIMIT, TLS codes). */
  handshakeFailuresByReason?: Record<string, number>;
  /** Sessions destroyed because the peer stopped answering PINGs. */
  sessionsLost?: number;
  /** Refused streams by HBONE error code. */
  rejections: Record<string, number>;
  /** By peer identity. */
  peers: Record<string, PeerTraffic>;
}

export interface EjectedEndpoint {
  endpoint: string;
  /** ms since the epoch. */
  until: number;
  failures: number;
}

/** A waypoint the daemon runs. */
export interface WaypointStatus {
  namespace: string;
  service: string;
  port: number;
  pid?: number;
  ready: boolean;
  /** Failed starts or exits since it last became ready. */
  failures: number;
}

export interface TunnelsReport {
  node: string;
  /** When the report was made, ms since the epoch. */
  at: number;
  /** This daemon's tunnels, and those of the waypoints it runs (their source is `sa/<svc>-waypoint`). */
  outbound: TunnelReport[];
  inbound?: InboundReport;
  ejected: EjectedEndpoint[];
  waypoints: WaypointStatus[];
}

/** The record a daemon publishes to the store under its node name. */
export interface NodeStatusReport {
  tunnels: TunnelsReport;
  /** The certificates it holds. */
  certs?: CertStatus[];
}

const count = () => int({ min: 0 });
const open = { ignoreUnknown: true };

const tunnelReport = (): Schema<TunnelReport> =>
  object<TunnelReport>(
    {
      source: req(string()),
      peer: req(string()),
      serverIdentity: string(),
      streamsActive: req(count()),
      streamsTotal: req(count()),
      bytesSent: req(count()),
      bytesReceived: req(count()),
      openedAt: req(number()),
      draining: req(bool()),
    },
    open,
  );

const inbound = (): Schema<InboundReport> =>
  object<InboundReport>(
    {
      sessionsActive: req(count()),
      streamsActive: req(count()),
      streamsTotal: req(count()),
      handshakeFailures: req(count()),
      streamsOpen: count(),
      upstreamSockets: count(),
      handshakesPending: count(),
      handshakeFailuresByReason: record(count()),
      sessionsLost: count(),
      rejections: req(record(count())),
      peers: req(record(object<PeerTraffic>({ streams: req(count()), bytesIn: req(count()), bytesOut: req(count()) }, open))),
    },
    open,
  );

const waypointStatus = (): Schema<WaypointStatus> =>
  object<WaypointStatus>(
    {
      namespace: req(string()),
      service: req(string()),
      port: req(int({ min: 1, max: 65535 })),
      pid: int({ min: 0 }),
      ready: req(bool()),
      failures: req(count()),
    },
    open,
  );

const tunnelsReport = (): Schema<TunnelsReport> =>
  object<TunnelsReport>(
    {
      node: req(string()),
      at: req(number()),
      outbound: req(array(tunnelReport())),
      inbound: inbound(),
      ejected: req(array(object<EjectedEndpoint>({ endpoint: req(string()), until: req(number()), failures: req(count()) }, open))),
      waypoints: req(array(waypointStatus())),
    },
    open,
  );

const certStatus = (): Schema<CertStatus> =>
  object<CertStatus>(
    {
      spiffeId: req(string()),
      kind: req(enumOf(['node', 'workload'])),
      state: req(enumOf(['valid', 'pending', 'expired'])),
      serial: string(),
      notBefore: string(),
      notAfter: string(),
      renewAt: string(),
      remainingSeconds: number(),
      renewals: req(count()),
      lastError: string(),
    },
    open,
  );

export const nodeStatusSchema = (): Schema<NodeStatusReport> => object<NodeStatusReport>({ tunnels: req(tunnelsReport()), certs: array(certStatus()) }, open);
