import type { Socket } from 'node:net';
import type { Logger } from '../logging.js';
import { handshakeLogLevel, handshakeReason, type HboneErrorCode } from './errors.js';
import type { SpliceResult } from './splice.js';
import type { ConnectRequest } from './server.js';

/**
 * Callbacks for the daemon's metrics and access log. They run on the data
 * path, so they must be cheap; one that throws is logged and ignored.
 */
export interface HboneServerEvents {
  sessionOpened?(info: { peerIdentity: string | undefined; peerAddress: string }): void;
  sessionClosed?(info: { peerIdentity: string | undefined; peerAddress: string; bytesIn: number; bytesOut: number }): void;
  /**
   * A session destroyed because its peer stopped answering PINGs
   * (EHBONE_KEEPALIVE_TIMEOUT); sessionClosed follows.
   */
  sessionLost?(info: { peerIdentity: string | undefined; peerAddress: string; error: Error }): void;
  /**
   * TLS refused: untrusted or missing client certificate, no ALPN h2, garbage;
   * a certificate OpenSSL accepted but peer-chain.ts refused (reason
   * EIDENTITY_WRONG_TRUST_DOMAIN, EIDENTITY_NOT_LEAF, ...); or no complete handshake in time (EHBONE_HANDSHAKE_TIMEOUT), or too many
   * unfinished ones from the address (EHBONE_HANDSHAKE_LIMIT).
   */
  handshakeFailed?(info: { peerAddress: string | undefined; reason: string; error: Error }): void;
  /** A stream answered with an error status: denied, refused, malformed. */
  rejected?(info: RejectInfo): void;
  upstreamFailed?(info: { peerIdentity: string; authority: string; upstream: string; error: Error; request: ConnectRequest }): void;
  /**
   * A tunnel is up: the upstream accepted and the peer got 200. `request` is
   * the object the policy hooks saw, and streamClosed gets the same one, so
   * what a hook worked out for a stream can be found again at its close.
   */
  streamOpened?(info: { peerIdentity: string; peerAddress: string; authority: string; request: ConnectRequest }): void;
  /** One access-log line per tunnelled connection. */
  streamClosed?(info: StreamCloseInfo): void;
}

export interface RejectInfo {
  code: HboneErrorCode;
  peerIdentity: string | undefined;
  peerAddress: string;
  authority: string;
  reason: string;
}

export interface StreamCloseInfo {
  /** The same object streamOpened had. */
  request: ConnectRequest;
  peerIdentity: string;
  peerAddress: string;
  authority: string;
  /** Bytes from the peer to the upstream. */
  bytesIn: number;
  /** Bytes from the upstream to the peer. */
  bytesOut: number;
  durationMs: number;
  error?: SpliceResult['error'];
}

export interface PeerCounters {
  streams: number;
  bytesIn: number;
  bytesOut: number;
}

/** Runs a policy hook; a throw or rejection becomes `fallback` (fail closed). */
export async function callHook<T>(hook: () => T | Promise<T>, fallback: T, log: Logger): Promise<T> {
  try {
    return await hook();
  } catch (err) {
    log.error({ err }, 'HBONE hook threw; failing closed');
    return fallback;
  }
}

/** Counters of one HboneServer plus the fan-out to its event hooks. */
export class ServerStats {
  sessionsTotal = 0;
  /** Sessions destroyed because the peer stopped answering PINGs. */
  sessionsLost = 0;
  /** Tunnels up: upstream connected (or stream accepted) and answered 200. */
  streamsActive = 0;
  /** Every HTTP/2 stream the server holds, from HEADERS to close, answered or not. */
  streamsOpen = 0;
  /** Upstream TCP sockets, from dial to close: what a dead peer must not leave behind. */
  upstreamSockets = 0;
  streamsTotal = 0;
  handshakeFailures = 0;
  /** handshakeFailures by error code (EHBONE_HANDSHAKE_TIMEOUT, ERR_SSL_..., ...). */
  readonly handshakeFailuresByReason: Record<string, number> = {};
  upstreamFailures = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly rejections: Partial<Record<HboneErrorCode, number>> = {};
  readonly peers = new Map<string, PeerCounters>();
  readonly #events: HboneServerEvents | undefined;
  readonly #log: Logger;

  constructor(events: HboneServerEvents | undefined, log: Logger) {
    this.#events = events;
    this.#log = log;
  }

  #emit<K extends keyof HboneServerEvents>(name: K, info: Parameters<NonNullable<HboneServerEvents[K]>>[0]): void {
    const hook = this.#events?.[name] as ((i: typeof info) => void) | undefined;
    if (!hook) return;
    try {
      hook(info);
    } catch (err) {
      this.#log.error({ err, hook: name }, 'HBONE event hook threw');
    }
  }

  sessionOpened(peerIdentity: string | undefined, peerAddress: string): void {
    this.sessionsTotal++;
    this.#emit('sessionOpened', { peerIdentity, peerAddress });
  }

  sessionClosed(peerIdentity: string | undefined, peerAddress: string, socket: Socket): void {
    this.#emit('sessionClosed', { peerIdentity, peerAddress, bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten });
  }

  sessionLost(peerIdentity: string | undefined, peerAddress: string, error: Error): void {
    this.sessionsLost++;
    this.#log.info({ peerIdentity, peerAddress, err: error }, 'HBONE peer stopped answering; session destroyed');
    this.#emit('sessionLost', { peerIdentity, peerAddress, error });
  }

  handshakeFailed(peerAddress: string | undefined, error: Error): void {
    this.handshakeFailures++;
    const reason = handshakeReason(error);
    this.handshakeFailuresByReason[reason] = (this.handshakeFailuresByReason[reason] ?? 0) + 1;
    this.#log[handshakeLogLevel(error)](
      { peerAddress, reason, err: error.message },
      `HBONE handshake from ${peerAddress ?? 'unknown address'} refused: ${reason}`,
    );
    this.#emit('handshakeFailed', { peerAddress, reason, error });
  }

  rejected(code: HboneErrorCode, info: Omit<RejectInfo, 'code'>): void {
    this.rejections[code] = (this.rejections[code] ?? 0) + 1;
    this.#log.info({ ...info, code }, 'HBONE stream rejected');
    this.#emit('rejected', { ...info, code });
  }

  upstreamFailed(request: ConnectRequest, target: { host: string; port: number }, error: Error): void {
    this.upstreamFailures++;
    const upstream = `${target.host}:${target.port}`;
    this.#log.info({ peer: request.peerIdentity, authority: request.authority, upstream, err: error }, 'HBONE upstream connect failed');
    this.#emit('upstreamFailed', { peerIdentity: request.peerIdentity, authority: request.authority, upstream, error, request });
  }

  streamOpened(request: ConnectRequest): void {
    this.streamsActive++;
    this.streamsTotal++;
    this.#emit('streamOpened', { peerIdentity: request.peerIdentity, peerAddress: request.peerAddress, authority: request.authority, request });
  }

  streamClosed(request: ConnectRequest, result: SpliceResult, durationMs: number): void {
    this.streamsActive--;
    this.bytesIn += result.aToB;
    this.bytesOut += result.bToA;
    let peer = this.peers.get(request.peerIdentity);
    if (!peer) this.peers.set(request.peerIdentity, (peer = { streams: 0, bytesIn: 0, bytesOut: 0 }));
    peer.streams++;
    peer.bytesIn += result.aToB;
    peer.bytesOut += result.bToA;
    this.#emit('streamClosed', {
      request,
      peerIdentity: request.peerIdentity,
      peerAddress: request.peerAddress,
      authority: request.authority,
      bytesIn: result.aToB,
      bytesOut: result.bToA,
      durationMs,
      ...(result.error ? { error: result.error } : {}),
    });
  }

  snapshot(sessionsActive: number, handshakesPending: number) {
    return {
      sessionsActive,
      sessionsTotal: this.sessionsTotal,
      sessionsLost: this.sessionsLost,
      streamsActive: this.streamsActive,
      streamsOpen: this.streamsOpen,
      streamsTotal: this.streamsTotal,
      upstreamSockets: this.upstreamSockets,
      handshakesPending,
      handshakeFailures: this.handshakeFailures,
      handshakeFailuresByReason: { ...this.handshakeFailuresByReason },
      upstreamFailures: this.upstreamFailures,
      rejections: { ...this.rejections },
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      peers: new Map([...this.peers].map(([k, v]) => [k, { ...v }])),
    };
  }
}
