/**
 * Inbound (port 15008): HBONE from peer nodes (and waypoints). The TLS layer
 * has verified the peer's chain against the trust bundle, checkPeer that the
 * certificate is not revoked (a refusal is a failed handshake, counted with
 * its code in ambit_tls_handshake_failures_total); here each CONNECT
 * is checked against this node's workloads (anything else is refused, so the
 * port is never an open relay) and against L4 AuthorizationPolicy, then
 * spliced to the local service.
 */
import type { Logger } from 'pino';
import {
  HboneServer,
  type ConnectRequest,
  type TlsIdentity,
  type AuthorizeDecision,
  type UpstreamDecision,
  type HboneServerOptions,
} from '../core/hbone/index.js';
import type { EndpointRecord } from '../core/store/types.js';
import { tcpLabels, type TcpLabels } from '../core/telemetry/labels.js';
import { callerParty, endpointParty } from '../core/telemetry/mesh-facts.js';
import type { CompiledTelemetry } from '../core/telemetry/compiled.js';
import { authorizeL4, reportDenial } from './authorize.js';
import { accountConnection, type ConnectionClosed } from './connection-account.js';
import { workloadTelemetry } from './workload-telemetry.js';
import { endTunnelSpan, tunnelAttributes, type TunnelOutcome, type TunnelSpan, type TunnelTracing } from './tunnel-tracing.js';
import type { MemoryRelease } from './memory-release.js';
import type { DaemonMetrics } from './metrics.js';
import type { MeshState } from '../core/mesh/index.js';
import type { DaemonConfig } from '../core/config/daemon-settings.js';
import { tapConnection, type ConnectionTap } from './connection-tap.js';
import { admitConnection } from './connection-admission.js';
import { ConnectionLimiter } from './connection-limiter.js';

export interface InboundOptions {
  state: () => MeshState;
  identity: TlsIdentity;
  /** Refuses revoked client certificates (core/identity/revocation/peer-check.ts). */
  checkPeer?: HboneServerOptions['checkPeer'];
  /** Handshake deadline and bound, keepalive (ambitd.yaml `hbone`). */
  limits: DaemonConfig['hbone'];
  metrics: DaemonMetrics;
  /** A span per tunnel (tunnel-tracing.ts); none when absent or when tracing is off. */
  tracing?: TunnelTracing;
  /** Told of every closed tunnel and failed handshake, to give memory back after a burst (memory-release.ts). */
  memory?: MemoryRelease;
  /** `ambit tap`'s subscribers, offered each closed or refused connection. */
  tap?: ConnectionTap;
  /** ConnectionLimit's counts, shared with the plaintext path (default: this server's own). */
  limiter?: ConnectionLimiter;
  log: Logger;
}

export function createInbound(options: InboundOptions): HboneServer {
  const { metrics, log } = options;
  const admission = { limiter: options.limiter ?? new ConnectionLimiter(), metrics, log };
  /**
   * Each tunnel's labels and its workload's telemetry, from the state it
   * dialled with (resolveUpstream); its open, its close and its bytes count
   * those, whatever the state says by the time it closes.
   */
  const openedWith = new WeakMap<ConnectRequest, { labels: TcpLabels; telemetry: CompiledTelemetry }>();
  /** Each open tunnel's accounting (connection-account.ts), from streamOpened to streamClosed. */
  const closers = new WeakMap<ConnectRequest, ConnectionClosed>();
  /** Each tunnel's span, from the policy check (the first hook) to wherever the tunnel ends. */
  const spans = new WeakMap<ConnectRequest, TunnelSpan>();
  const endSpan = (req: ConnectRequest, outcome: TunnelOutcome): void => {
    endTunnelSpan(spans.get(req), outcome);
    spans.delete(req);
  };
  const labels = (req: ConnectRequest, state: MeshState, ep: EndpointRecord): TcpLabels =>
    tcpLabels({
      reporter: 'destination',
      source: callerParty(state, req.peerIdentity, req.peerAddress),
      destination: endpointParty(state, ep),
      service: state.serviceOfEndpoint(ep),
      securityPolicy: 'mutual_tls',
    });

  const authorize = (req: ConnectRequest): AuthorizeDecision => {
    const state = options.state();
    const ep = state.localEndpoint(req.destination.host, req.destination.port);
    const span = options.tracing?.inbound(req.headers, () =>
      tunnelAttributes({
        source: req.peerIdentity,
        destination: ep,
        ...(ep ? { destinationPrincipal: state.identityOf(ep) } : {}),
        peer: req.peerAddress,
        authority: req.authority,
      }),
    );
    if (span) spans.set(req, span);
    // Unknown targets are refused by resolveUpstream with a clearer status.
    if (!ep) return { allow: true };
    const decision = authorizeL4(state, ep, { identity: req.peerIdentity, ip: req.peerAddress }, req.destination.host);
    if (decision.allowed) return { allow: true };
    endSpan(req, {
      bytesToDestination: 0,
      bytesFromDestination: 0,
      errorType: 'authz_denied',
      attributes: { 'ambit.authz.policy': decision.policy ?? '', 'ambit.authz.reason': decision.reason },
    });
    const service = state.serviceOfEndpoint(ep).host;
    reportDenial(metrics, log, { service, source: req.peerIdentity, decision, reason: 'policy' }, { peer: req.peerAddress, authority: req.authority });
    tapRefusal(req, service, decision.reason, decision.policy);
    return { allow: false, reason: decision.reason };
  };

  /** `ambit tap`'s record of a stream refused before any byte (a policy denial, a connection limit). */
  const tapRefusal = (req: ConnectRequest, service: string, reason: string, policy: string | undefined): void =>
    tapConnection(options.tap, service, () => ({
      start_time: new Date().toISOString(),
      duration_ms: 0,
      source_principal: req.peerIdentity,
      source_address: req.peerAddress,
      destination: req.authority,
      destination_service: service,
      security: 'mutual_tls',
      authz: 'deny',
      ...(policy !== undefined ? { authz_policy: policy } : {}),
      authz_reason: reason,
      bytes_received: 0,
      bytes_sent: 0,
    }));

  const resolveUpstream = (req: ConnectRequest): UpstreamDecision => {
    const state = options.state();
    const ep = state.localEndpoint(req.destination.host, req.destination.port);
    if (!ep) {
      metrics.refusedAuthorities.inc({ reason: 'not-local-workload' });
      endSpan(req, { bytesToDestination: 0, bytesFromDestination: 0, errorType: 'not_local_workload' });
      return { refuse: `${req.authority} is not a workload enrolled on this node` };
    }
    const admitted = admitConnection(admission, state, ep, { identity: req.peerIdentity, ip: req.peerAddress }, 'hbone', {
      peer: req.peerAddress,
      authority: req.authority,
    });
    if (!admitted.admitted) {
      endSpan(req, { bytesToDestination: 0, bytesFromDestination: 0, errorType: 'connection_limit' });
      tapRefusal(req, state.serviceOfEndpoint(ep).host, admitted.reason, admitted.policy);
      return { refuse: admitted.reason, limited: true };
    }
    openedWith.set(req, { labels: labels(req, state, ep), telemetry: workloadTelemetry(state, ep) });
    // The slot is held for as long as the stream lives, however it ends.
    return { host: ep.address, port: ep.port, onClose: admitted.release };
  };

  const { limits } = options;
  return new HboneServer({
    identity: options.identity,
    ...(options.checkPeer ? { checkPeer: options.checkPeer } : {}),
    handshake: { timeoutMs: limits.handshakeTimeoutMs, maxPendingPerAddress: limits.maxPendingHandshakesPerAddress },
    keepalive: { intervalMs: limits.keepaliveIntervalMs, timeoutMs: limits.keepaliveTimeoutMs },
    authorize,
    resolveUpstream,
    log,
    events: {
      // HboneServer logs each refusal with the peer and reason. A flood of connections that never
      // finish a handshake leaves as much freed memory behind as a burst of tunnels: released the same way.
      handshakeFailed: ({ reason }) => {
        metrics.tlsHandshakeFailures.inc({ direction: 'inbound', reason });
        options.memory?.connectionClosed();
      },
      sessionLost: ({ peerAddress, error }) => {
        metrics.sessionsLost.inc({ direction: 'inbound', reason: (error as { code?: string }).code ?? 'ERROR' });
        log.warn({ peer: peerAddress, err: error.message }, 'HBONE peer stopped answering; its session and streams were destroyed');
      },
      sessionOpened: () => metrics.tunnelSessions.inc({ direction: 'inbound' }),
      sessionClosed: () => metrics.tunnelSessions.dec({ direction: 'inbound' }),
      upstreamFailed: ({ authority, error, request }) => {
        const reason = (error as { code?: string }).code ?? 'ERROR';
        metrics.connectFailures.inc({ direction: 'inbound', reason });
        endSpan(request, { bytesToDestination: 0, bytesFromDestination: 0, errorType: reason });
        log.warn({ authority, err: error.message }, 'local service refused the connection');
      },
      // Every stream this server opens went through resolveUpstream, so each has its labels.
      streamOpened: (info) => {
        const opened = openedWith.get(info.request);
        metrics.tunnelStreams.inc({ direction: 'inbound' });
        if (!opened) return;
        closers.set(
          info.request,
          accountConnection(options, {
            ...opened,
            mtls: true,
            fields: { src: info.peerIdentity, peer: info.peerAddress, authority: info.authority },
            message: 'inbound connection closed',
            traceId: spans.get(info.request)?.traceId,
          }),
        );
      },
      streamClosed: (info) => {
        endSpan(info.request, {
          bytesToDestination: info.bytesIn,
          bytesFromDestination: info.bytesOut,
          ...(info.error?.code !== undefined ? { errorType: info.error.code } : {}),
          attributes: { 'ambit.authz.decision': 'allow', 'ambit.duration_ms': info.durationMs },
        });
        metrics.tunnelStreams.dec({ direction: 'inbound' });
        const closed = closers.get(info.request);
        closers.delete(info.request);
        if (closed) closed(info.bytesIn, info.bytesOut, info.error?.code);
        else options.memory?.connectionClosed();
        const l = openedWith.get(info.request)?.labels;
        if (l) {
          tapConnection(options.tap, l.destination_service, () => ({
            start_time: new Date(Date.now() - info.durationMs).toISOString(),
            duration_ms: info.durationMs,
            source_principal: info.peerIdentity,
            source_address: info.peerAddress,
            destination: info.authority,
            destination_service: l.destination_service,
            security: 'mutual_tls',
            authz: 'allow',
            bytes_received: info.bytesIn,
            bytes_sent: info.bytesOut,
            ...(info.error?.code !== undefined ? { error: info.error.code } : {}),
          }));
        }
      },
    },
  });
}
