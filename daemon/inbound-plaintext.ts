/**
 * Inbound plaintext (port 15006): TCP to a workload on this node that did not
 * come over HBONE. iptables sends it here from two places (scripts/iptables):
 * nat PREROUTING, for other hosts' plaintext to a workload whose port is not
 * STRICT, and nat OUTPUT, for local users other than the enrolled ones and the
 * daemon. As ztunnel does, L4 AuthorizationPolicy applies to it with no peer
 * principal, so a policy that allows only principals refuses it while
 * ipBlocks, remoteIpBlocks, ports and DENY rules still match.
 *
 * A local caller is named by the kernel, as outbound names its callers: the
 * uid that owns the client socket. An enrolled uid is its workload's identity
 * (the same trust outbound gives it); anyone else is unauthenticated, and so
 * refused outright on a STRICT port.
 *
 * The service then sees the connection come from the daemon over loopback, as
 * it does for tunnelled traffic: the client's address is not carried through.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { AmbitError } from '../core/errors.js';
import { formatAuthority } from '../core/hbone/authority.js';
import { splice } from '../core/hbone/splice.js';
import type { ListenTarget } from '../core/net/listen-target.js';
import type { MeshState } from '../core/mesh/index.js';
import { originalDst, type OriginalDst } from '../core/net/original-dst.js';
import type { EndpointRecord } from '../core/store/types.js';
import { tcpLabels } from '../core/telemetry/labels.js';
import { endpointParty } from '../core/telemetry/mesh-facts.js';
import { authorizeL4, reportDenial } from './authorize.js';
import { CapturedListener } from './captured-listener.js';
import { accountConnection } from './connection-account.js';
import { tapConnection, type ConnectionTap } from './connection-tap.js';
import type { ConnectionRecord } from '../core/telemetry/connection-record.js';
import { workloadTelemetry } from './workload-telemetry.js';
import type { MemoryRelease } from './memory-release.js';
import type { DaemonMetrics } from './metrics.js';
import { capturedSocketOwnerUid } from './socket-owner.js';
import { dialTcp } from './dial-tcp.js';
import { admitConnection } from './connection-admission.js';
import { ConnectionLimiter } from './connection-limiter.js';

export interface InboundPlaintextOptions {
  state: () => MeshState;
  /** The listener's own port: an original destination equal to it means "not captured". */
  port: number;
  metrics: DaemonMetrics;
  memory?: MemoryRelease;
  /** `ambit tap`'s subscribers, offered each closed or refused connection. */
  tap?: ConnectionTap;
  /** ConnectionLimit's counts, shared with the HBONE path (default: this listener's own). */
  limiter?: ConnectionLimiter;
  log: Logger;
}

/** Who dialled: a local enrolled workload (by its socket's uid), or nobody the mesh can name. */
interface Caller {
  ip: string;
  workload?: EndpointRecord;
}

export class InboundPlaintext {
  readonly #options: InboundPlaintextOptions;
  readonly #listener: CapturedListener;
  readonly #limiter: ConnectionLimiter;

  constructor(options: InboundPlaintextOptions) {
    this.#options = options;
    this.#limiter = options.limiter ?? new ConnectionLimiter();
    this.#listener = new CapturedListener(options.port, (socket) => void this.#handle(socket));
  }

  /** On the sockets systemd passed for inbound-plaintext, or bound here on IPv4 and IPv6. */
  listen(targets?: ListenTarget[]): Promise<void> {
    return this.#listener.listen(targets, this.#options.log);
  }

  close(deadlineMs = 0): Promise<void> {
    return this.#listener.close(deadlineMs);
  }

  get activeConnections(): number {
    return this.#listener.activeConnections;
  }

  async #handle(socket: Socket): Promise<void> {
    socket.on('error', () => undefined); // reported where the splice ends
    const { metrics, log } = this.#options;
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    let release: (() => void) | undefined;
    try {
      const dst = originalDst(socket);
      // Dialled directly (from anywhere): nothing was captured, and there is nothing to deliver to.
      if (this.#listener.isDirect(socket, dst)) {
        socket.destroy();
        return;
      }
      const state = this.#options.state();
      const ep = localWorkloadAt(state, dst);
      const caller = await this.#caller(socket, state, dst);
      const identity = caller.workload ? state.identityOf(caller.workload) : undefined;
      const service = state.serviceOfEndpoint(ep);
      const fields = { peer: client, endpoint: formatAuthority(dst.address, dst.port), path: 'plaintext' };
      const started = Date.now();
      const tap = (outcome: Pick<ConnectionRecord, 'authz' | 'authz_policy' | 'authz_reason' | 'bytes_received' | 'bytes_sent' | 'error'>) =>
        tapConnection(this.#options.tap, service.host, () => ({
          start_time: new Date(started).toISOString(),
          duration_ms: Date.now() - started,
          ...(identity !== undefined ? { source_principal: identity } : {}),
          source_address: client,
          destination: fields.endpoint,
          destination_service: service.host,
          security: 'none',
          ...outcome,
        }));
      if (!identity && state.mtlsMode(ep) === 'STRICT') {
        reportDenial(metrics, log, { service: service.host, source: undefined, reason: 'mtls_strict' }, fields);
        tap({ authz: 'deny', authz_reason: 'PeerAuthentication STRICT refuses plaintext', bytes_received: 0, bytes_sent: 0 });
        socket.resetAndDestroy();
        return;
      }
      const decision = authorizeL4(state, ep, { identity, ip: caller.ip }, dst.address);
      if (!decision.allowed) {
        reportDenial(metrics, log, { service: service.host, source: identity, decision, reason: 'policy' }, fields);
        tap({
          authz: 'deny',
          ...(decision.policy !== undefined ? { authz_policy: decision.policy } : {}),
          authz_reason: decision.reason,
          bytes_received: 0,
          bytes_sent: 0,
        });
        socket.resetAndDestroy();
        return;
      }
      const admitted = admitConnection({ limiter: this.#limiter, metrics, log }, state, ep, { identity, ip: caller.ip }, 'plaintext', fields);
      if (!admitted.admitted) {
        tap({ authz: 'deny', authz_policy: admitted.policy, authz_reason: admitted.reason, bytes_received: 0, bytes_sent: 0 });
        socket.resetAndDestroy();
        return;
      }
      release = admitted.release;
      const labels = tcpLabels({
        reporter: 'destination',
        source: caller.workload ? endpointParty(state, caller.workload) : {},
        destination: endpointParty(state, ep),
        service,
        securityPolicy: 'none',
      });
      // Where the client meant to go: a local user may have dialled 127.0.0.1 for a workload enrolled at the host's address.
      const upstream = await dialTcp(dst.address, dst.port);
      const closed = accountConnection(this.#options, {
        labels,
        // reporter="destination": the destination workload's Telemetry.
        telemetry: workloadTelemetry(state, ep),
        mtls: false,
        fields: { src: identity ?? 'plaintext', ...fields },
        message: 'inbound plaintext connection closed',
      });
      socket.resume();
      splice(socket, upstream, (r) => {
        admitted.release();
        closed(r.aToB, r.bToA, r.error?.code);
        tap({ authz: 'allow', bytes_received: r.aToB, bytes_sent: r.bToA, ...(r.error !== undefined ? { error: r.error.code } : {}) });
      });
    } catch (err) {
      // A failed dial frees the slot it took.
      release?.();
      metrics.connectFailures.inc({ direction: 'inbound', reason: (err as { code?: string }).code ?? 'ERROR' });
      log.warn({ err, client, path: 'plaintext' }, 'inbound plaintext connection failed');
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }

  /**
   * Only a connection that arrived over loopback (REDIRECT from nat OUTPUT
   * delivers to 127.0.0.1 or ::1) is asked about its owner: one from another
   * host has no socket here, and its address proves nothing.
   */
  async #caller(socket: Socket, state: MeshState, dst: OriginalDst): Promise<Caller> {
    // The IPv6 listener is IPv6-only, so no address here is IPv4-mapped.
    const ip = socket.remoteAddress ?? '';
    if (!isLoopback(socket.localAddress ?? '')) return { ip };
    const uid = await capturedSocketOwnerUid(
      {
        client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
      },
      dst,
    ).catch(() => undefined);
    const workload = uid === undefined ? undefined : state.workloadForUid(uid);
    return workload ? { ip, workload } : { ip };
  }
}

/**
 * The local workload a redirected connection was for. From another host the
 * rule matched its exact address; a local user may have dialled any local
 * address (127.0.0.1, the host's) on the workload's port, so the port alone
 * names it then, unless two local workloads share that port.
 */
export function localWorkloadAt(state: MeshState, dst: { address: string; port: number }): EndpointRecord {
  const exact = state.localEndpoint(dst.address, dst.port);
  if (exact) return exact;
  const onPort = state.localEndpoints().filter((ep) => ep.port === dst.port);
  const only = onPort[0];
  if (only && onPort.length === 1) return only;
  const where = formatAuthority(dst.address, dst.port);
  throw new AmbitError(
    'EINBOUND_NO_WORKLOAD',
    onPort.length === 0
      ? `no workload enrolled on this node listens on ${where} (its rules are being updated)`
      : `${where} could be any of ${onPort.map((ep) => formatAuthority(ep.address, ep.port)).join(', ')}: dial the workload's own address`,
    { destination: where },
  );
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
