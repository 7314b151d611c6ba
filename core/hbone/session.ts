import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type DetailedPeerCertificate, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Logger } from '../logging.js';
import { formatAuthority } from './authority.js';
import { errorFromTransport, handshakeLogLevel, handshakeReason, HboneError } from './errors.js';
import { verifyHbonePeer } from './peer-chain.js';
import { ALPN_H2, secureContextFor, type TlsIdentity } from './tls-identity.js';
import { bindLiveness, type Keepalive } from './liveness.js';
import { applyConnectionWindow, h2Settings, maxSessionMemoryMiB, type H2Tuning } from './tuning.js';

export interface Peer {
  host: string;
  port: number;
}

export interface SessionParams {
  source: string;
  peer: Peer;
  identity: () => TlsIdentity | Promise<TlsIdentity>;
  tuning: H2Tuning;
  /** TCP + TLS + the server's SETTINGS must all be done within this. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  keepalive: Keepalive;
  /** A check of the server certificate beyond its chain (revocation); an Error aborts the dial. */
  checkPeer?: ((cert: DetailedPeerCertificate, peer: Peer) => Error | undefined) | undefined;
  /**
   * The dial reached the peer but TLS or the server's SETTINGS did not
   * follow: its certificate refused here, ours refused there, an alert, a
   * timeout. Not called for checkPeer's refusals, which that check counts itself.
   */
  onHandshakeFailed?: ((info: { peer: string; source: string; reason: string; error: Error }) => void) | undefined;
  log: Logger;
  onClose: (session: PooledSession) => void;
}

/**
 * One TLS + HTTP/2 connection from one source identity to one peer node,
 * carrying many CONNECT streams. It is handed out before the handshake ends
 * (`ready`), so a burst of connects to a new peer shares one dial.
 */
export class PooledSession {
  readonly source: string;
  readonly peer: Peer;
  readonly ready: Promise<void>;
  session: ClientHttp2Session | undefined;
  socket: TLSSocket | undefined;
  /** The server's SPIFFE ID, known once `ready` resolved. */
  serverIdentity: string | undefined;
  /** No new streams: GOAWAY received, rotated away, or closing. */
  draining = false;
  closed = false;
  connected = false;
  active = 0;
  total = 0;
  /** When the session was created (ms since epoch), for `ambit tunnels`. */
  readonly openedAt = Date.now();
  #lastError: unknown;
  /** What checkPeer refused the server with; that check logged and counted it. */
  #checkPeerRefusal: Error | undefined;
  #peerAccepted = false;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Streams the server let us have at once, learnt from its REFUSED_STREAM (see tuning.ts maxConcurrentStreams). */
  #refusedAt: number | undefined;
  readonly #params: SessionParams;

  constructor(params: SessionParams) {
    this.#params = params;
    this.source = params.source;
    this.peer = params.peer;
    this.ready = this.#dial();
    // Streams that never await `ready` (none today) must not see an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** Streams this session may still take; the peer's SETTINGS can lower our cap. */
  hasRoom(maxStreams: number): boolean {
    if (this.draining || this.closed) return false;
    const remote = this.session?.remoteSettings.maxConcurrentStreams;
    return this.active < Math.min(maxStreams, remote ?? maxStreams, this.#refusedAt ?? maxStreams);
  }

  /** The server refused a stream for its concurrency limit: no more than the others now open, until the session ends. */
  refusedStream(): void {
    this.#refusedAt = Math.max(1, this.active - 1);
  }

  take(): void {
    this.active++;
    this.total++;
    clearTimeout(this.#idleTimer);
  }

  give(): void {
    this.active--;
    if (this.active > 0 || this.closed) return;
    if (this.draining) return this.close();
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.close(), this.#params.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  /** Stops new streams; open ones finish, then the connection closes. */
  drain(): void {
    this.draining = true;
    if (this.active === 0) this.close();
  }

  close(): void {
    this.draining = true;
    clearTimeout(this.#idleTimer);
    if (this.session) this.session.close();
    else
      this.ready.then(
        () => this.session?.close(),
        () => undefined,
      );
  }

  /**
   * Runs checkPeer again on the server certificate (the revocation list
   * changed) and destroys the session, with its streams, if it now refuses
   * it. A session still handshaking is left alone: its check is still ahead
   * and will see the new list.
   */
  recheck(): boolean {
    const check = this.#params.checkPeer;
    const cert = this.closed ? undefined : this.socket?.getPeerCertificate(true);
    if (!check || !cert?.raw) return false;
    let refused: Error | undefined;
    try {
      refused = check(cert, this.peer);
    } catch (err) {
      // Fail closed, as on 15008: a check that cannot decide refuses.
      refused = err instanceof Error ? err : new Error(String(err));
    }
    if (!refused) return false;
    this.#lastError ??= refused;
    this.destroy();
    return true;
  }

  destroy(): void {
    this.draining = true;
    clearTimeout(this.#idleTimer);
    this.session?.destroy();
    this.socket?.destroy();
  }

  get errored(): boolean {
    return this.#lastError !== undefined;
  }

  /** What killed the session, as a typed error. */
  failure(context: Record<string, unknown>): HboneError {
    return errorFromTransport(this.#lastError ?? new Error('session closed'), context);
  }

  get bytesRead(): number {
    return this.socket?.bytesRead ?? 0;
  }

  get bytesWritten(): number {
    return this.socket?.bytesWritten ?? 0;
  }

  async #dial(): Promise<void> {
    const { peer, tuning } = this.#params;
    const context = { peer: formatAuthority(peer.host, peer.port), source: this.source };
    let identity: TlsIdentity;
    try {
      identity = await this.#params.identity();
    } catch (err) {
      this.#markClosed();
      throw new HboneError('EHBONE_NO_IDENTITY', `no TLS identity for ${this.source}: ${(err as Error).message}`, context, { cause: err });
    }
    if (this.draining) {
      this.#markClosed();
      throw new HboneError('EHBONE_CLOSED', 'HBONE client closed', context);
    }
    // No servername: peers are addressed by IP, so there is no SNI to send.
    const socket = tlsConnect({
      host: peer.host,
      port: peer.port,
      secureContext: secureContextFor(identity),
      ALPNProtocols: ALPN_H2,
      // Replaces the hostname check; node:tls passes the detailed certificate (getPeerCertificate(true)).
      checkServerIdentity: (_host: string, cert: PeerCertificate) => this.#checkServer(cert as DetailedPeerCertificate, identity),
    });
    socket.setNoDelay(true);
    let reached = false;
    socket.once('connect', () => (reached = true));
    this.socket = socket;
    const session = h2Connect(`https://${context.peer}`, {
      createConnection: () => socket,
      settings: h2Settings(tuning),
      maxSessionMemory: maxSessionMemoryMiB(tuning),
    });
    this.session = session;
    session.on('error', (err: Error) => (this.#lastError ??= err));
    socket.on('error', (err: Error) => (this.#lastError ??= err));
    session.on('goaway', () => (this.draining = true));
    // In TLS 1.3 the client finishes its handshake before the server has
    // judged the client certificate; a server that rejects it closes without
    // an error our side can read. Its first SETTINGS frame is the first proof
    // that it accepted us, so a session closed before that is a TLS refusal.
    session.once('remoteSettings', () => (this.#peerAccepted = true));
    // A reset then reads "socket hang up", which says nothing; the server's log has its reason.
    socket.once('close', () => {
      const reset = handshakeReason(this.#lastError) === 'ECONNRESET';
      if (!this.#peerAccepted && this.connected && (this.#lastError === undefined || reset)) {
        this.#lastError = Object.assign(
          new Error(`peer ${context.peer} closed the connection right after the TLS handshake: it refused our certificate (its log says why)`, {
            cause: this.#lastError,
          }),
          { code: 'ERR_TLS_PEER_REJECTED' },
        );
      }
    });
    session.once('close', () => this.#markClosed());
    bindLiveness(session, socket, this.#params.keepalive, context, (err) => (this.#lastError ??= err));

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#lastError ??= new HboneError('EHBONE_TIMEOUT', `HBONE dial to ${context.peer} timed out`, context);
        session.destroy();
      }, this.#params.connectTimeoutMs);
      session.once('connect', () => (this.connected = true));
      // Ready once the server's SETTINGS arrived, not at TLS 'connect': a peer
      // that accepts TCP and TLS but never speaks HTTP/2 is then a dial
      // timeout, not a session every later stream waits on in vain.
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        resolve();
      });
      session.once('close', () => {
        clearTimeout(timer);
        if (reached) this.#handshakeFailed(context);
        reject(this.failure(context));
      });
    });
    applyConnectionWindow(session, tuning);
  }

  /**
   * After OpenSSL verified the server's chain: what it does not check
   * (peer-chain.ts), then checkPeer. An Error fails the dial as EHBONE_PEER_IDENTITY.
   */
  #checkServer(cert: DetailedPeerCertificate, identity: TlsIdentity): Error | undefined {
    const verified = verifyHbonePeer(cert, identity, 'server');
    if (verified instanceof Error) {
      return Object.assign(new Error(`server certificate refused: ${verified.message}`, { cause: verified }), { code: 'EHBONE_PEER_IDENTITY' });
    }
    this.serverIdentity = verified.spiffeId.uri;
    const refused = this.#params.checkPeer?.(cert, this.peer);
    this.#checkPeerRefusal = refused;
    return refused;
  }

  /** The dial reached the peer and failed before its SETTINGS: logged with the real reason and reported. */
  #handshakeFailed(context: { peer: string; source: string }): void {
    const error = this.#lastError;
    if (!(error instanceof Error) || error === this.#checkPeerRefusal) return;
    const reason = handshakeReason(error);
    this.#params.log[handshakeLogLevel(error)]({ ...context, reason, err: error.message }, `HBONE handshake with ${context.peer} failed: ${reason}`);
    try {
      this.#params.onHandshakeFailed?.({ ...context, reason, error });
    } catch (err) {
      this.#params.log.error({ err }, 'HBONE handshakeFailed hook threw');
    }
  }

  #markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    clearTimeout(this.#idleTimer);
    this.#params.onClose(this);
  }
}
