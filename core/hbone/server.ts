import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { logger, type Logger } from '../logging.js';
import { listenTcp, type ListenTarget } from '../net/listen-target.js';
import { parseAuthority, type Authority } from './authority.js';
import { ERROR_HEADER, H2_REFUSED_STREAM, type HboneErrorCode } from './errors.js';
import { DEFAULT_HANDSHAKE_LIMITS, HandshakeGuard, type HandshakeLimits } from './handshake-guard.js';
import { bindLiveness, DEFAULT_KEEPALIVE, type Keepalive } from './liveness.js';
import { callHook, ServerStats, type HboneServerEvents } from './server-stats.js';
import { resetStream, splice } from './splice.js';
import { localBundle, verifyHbonePeer } from './peer-chain.js';
import { ALPN_H2, TLS13_CIPHERSUITES, TLS_MIN_VERSION, type TlsIdentity } from './tls-identity.js';
import { retainWrites } from './write-retention.js';
import { applyConnectionWindow, applyWriteBuffer, h2Settings, maxSessionMemoryMiB, resolveTuning, type H2Tuning } from './tuning.js';

/** One CONNECT request, as the policy hooks see it. */
export interface ConnectRequest {
  /** SPIFFE ID from the verified client certificate. */
  peerIdentity: string;
  /** The `:authority` as sent. */
  authority: string;
  /** The parsed destination. */
  destination: Authority;
  peerAddress: string;
  peerPort: number;
  headers: IncomingHttpHeaders;
}

export type AuthorizeDecision = { allow: true } | { allow: false; reason: string };

/** Takes over an accepted CONNECT stream (already answered 200) instead of a TCP dial. */
export type StreamHandler = (stream: ServerHttp2Stream, request: ConnectRequest) => void;

/**
 * Where to connect, or why not (refusal is what keeps 15008 from being an open
 * relay), or `accept`: terminate the tunnel in this process (a waypoint feeds
 * the stream's bytes to its HTTP server rather than dialing anything).
 */
export type UpstreamDecision =
  | {
      host: string;
      port: number;
      localAddress?: string;
      /** Called once when the stream closes, however it ends (a slot the tunnel holds: connection limits). */
      onClose?: () => void;
    }
  | {
      refuse: string;
      /** Default 400 EHBONE_REFUSED (not a workload here); 503 EHBONE_CONNECTION_LIMIT when the source holds all its slots. */
      limited?: boolean;
    }
  | { accept: StreamHandler };

export interface HboneServerOptions {
  /** This node's (or waypoint's) certificate, key and trust bundle. */
  identity: TlsIdentity;
  /**
   * A check of the verified client certificate beyond its chain (revocation):
   * an Error refuses the session before any stream (counted as a failed
   * handshake with the error's code); run again on every session by recheckPeers().
   */
  checkPeer?: (cert: DetailedPeerCertificate) => Error | undefined;
  /** L4 authorization; absent means every verified peer is allowed. */
  authorize?: (request: ConnectRequest) => AuthorizeDecision | Promise<AuthorizeDecision>;
  /** Maps a destination to a local upstream; there is no default on purpose. */
  resolveUpstream: (request: ConnectRequest) => UpstreamDecision | Promise<UpstreamDecision>;
  /** Dials the upstream; replace to bind a source address or set socket options. */
  dialUpstream?: (target: { host: string; port: number; localAddress?: string }) => Socket;
  tuning?: Partial<H2Tuning>;
  /** Upstream TCP connect timeout (default 10 s); expiry answers 503. */
  upstreamConnectTimeoutMs?: number;
  /** Close a session that has carried no stream for this long (default 10 min). */
  sessionIdleTimeoutMs?: number;
  /** Deadline from TCP accept to the client's SETTINGS, and unfinished handshakes per address (handshake-guard.ts). */
  handshake?: Partial<HandshakeLimits>;
  /** PING keepalive: a session whose peer stops answering is destroyed with its streams (liveness.ts). */
  keepalive?: Partial<Keepalive>;
  events?: HboneServerEvents;
  log?: Logger;
}

interface SessionInfo {
  peerIdentity: string;
  peerCert: DetailedPeerCertificate;
  peerAddress: string;
  peerPort: number;
  streams: number;
  idleTimer: NodeJS.Timeout | undefined;
}

const sessionInfo = new WeakMap<ServerHttp2Session, SessionInfo>();

/**
 * The inbound side of HBONE (port 15008): mTLS-only HTTP/2, one CONNECT stream
 * per tunnelled TCP connection. Statuses follow ztunnel where it has one
 * (400 bad request, 503 upstream connect failure); policy denial is 403.
 * Everything a peer can cause is caught and counted, never thrown.
 */
export class HboneServer {
  readonly server: Http2SecureServer;
  readonly #options: HboneServerOptions;
  readonly #tuning: H2Tuning;
  readonly #log: Logger;
  readonly #stats: ServerStats;
  readonly #sessions = new Set<ServerHttp2Session>();
  /** Every accepted TCP socket, TLS or not yet, so close() can end them all. */
  readonly #sockets = new Set<Socket>();
  readonly #handshakes: HandshakeGuard;
  /** The TLS socket whose session is being set up (see the constructor). */
  #accepted: TLSSocket | undefined;
  readonly #keepalive: Keepalive;
  /** The identity new handshakes use; peers are verified against its bundle (peer-chain.ts). */
  #identity: TlsIdentity;

  constructor(options: HboneServerOptions) {
    this.#options = options;
    localBundle(options.identity);
    this.#identity = options.identity;
    this.#tuning = resolveTuning(options.tuning);
    this.#log = options.log ?? logger('hbone');
    this.#stats = new ServerStats(options.events, this.#log);
    this.#keepalive = { ...DEFAULT_KEEPALIVE, ...options.keepalive };
    this.#handshakes = new HandshakeGuard({ ...DEFAULT_HANDSHAKE_LIMITS, ...options.handshake }, (address, err) => this.#stats.handshakeFailed(address, err));
    this.server = createSecureServer({
      ...tlsOptions(options.identity),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ALPN_H2,
      allowHTTP1: false,
      settings: h2Settings(this.#tuning),
      maxSessionMemory: maxSessionMemoryMiB(this.#tuning),
    });
    // Before TLS: every accepted socket is on the clock until the client's SETTINGS arrive.
    this.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      this.#handshakes.admit(socket);
    });
    // node:http2 creates the session (and emits 'session') from its own
    // 'secureConnection' listener; this one, prepended, runs just before with
    // the real TLSSocket, which liveness.ts must be able to destroy
    // (session.socket is a proxy that refuses destroy()).
    this.server.prependListener('secureConnection', (socket: TLSSocket) => (this.#accepted = socket));
    this.server.on('session', (session) => this.#onSession(session));
    this.server.on('stream', (stream, headers) => {
      this.#onStream(stream, headers).catch((err: unknown) => this.#log.error({ err }, 'HBONE stream handler failed'));
    });
    this.server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.#stats.handshakeFailed(socket.remoteAddress, err);
      socket.destroy();
    });
    // A TLS client that negotiated no ALPN: without this listener Node keeps
    // the socket for unknownProtocolTimeout (10 s).
    this.server.on('unknownProtocol', (socket: TLSSocket) => {
      this.#stats.handshakeFailed(socket.remoteAddress, new Error('client did not negotiate ALPN h2'));
      socket.destroy();
    });
    this.server.on('sessionError', (err) => this.#log.debug({ err }, 'HBONE session error'));
    this.server.on('error', (err) => this.#log.error({ err }, 'HBONE server error'));
  }

  /** A port (bound on `host`), or a target: a socket systemd passed (core/net/inherited-sockets.ts) or an address to bind. */
  listen(target: number | ListenTarget, host = '0.0.0.0'): Promise<AddressInfo> {
    return listenTcp(this.server, typeof target === 'number' ? { kind: 'bind', host, port: target } : target);
  }

  /** New handshakes use `identity` from now on; established sessions keep theirs. */
  setSecureContext(identity: TlsIdentity): void {
    localBundle(identity);
    this.server.setSecureContext(tlsOptions(identity));
    this.#identity = identity;
  }

  stats(): ReturnType<ServerStats['snapshot']> {
    return this.#stats.snapshot(this.#sessions.size, this.#handshakes.pending);
  }

  /** Stops accepting, lets open streams finish for `graceMs`, then cuts the rest. */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    // Past the grace, sessions go, and so does every socket still open: one still
    // handshaking, or one Node's http2 left open under a destroyed session (it can,
    // with a write in flight), would otherwise hold server.close(), and a drain, for good.
    const timer = setTimeout(() => {
      for (const session of this.#sessions) session.destroy();
      for (const socket of this.#sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  /**
   * Verifies every open session's client again, chain (against the bundle
   * in use now) and checkPeer (after the revocation list changed), and
   * destroys, with their streams, those now refused.
   */
  recheckPeers(): number {
    let destroyed = 0;
    for (const session of this.#sessions) {
      const info = sessionInfo.get(session);
      const verdict = info && this.#judge(info.peerCert);
      if (!verdict || !('refused' in verdict)) continue;
      this.#stats.handshakeFailed(info.peerAddress, verdict.refused);
      session.destroy();
      destroyed++;
    }
    return destroyed;
  }

  /**
   * What OpenSSL does not check (peer-chain.ts: trust domain, CA as leaf, no
   * SPIFFE ID, key usage), then checkPeer: the client's verified SPIFFE ID, or why it is refused.
   */
  #judge(cert: DetailedPeerCertificate): { peerIdentity: string } | { refused: Error } {
    const verified = verifyHbonePeer(cert, this.#identity, 'client');
    if (verified instanceof Error) return { refused: verified };
    try {
      const refused = this.#options.checkPeer?.(cert);
      return refused ? { refused } : { peerIdentity: verified.spiffeId.uri };
    } catch (err) {
      // Fail closed: a check that cannot decide refuses.
      return { refused: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  #onSession(session: ServerHttp2Session): void {
    const socket = this.#accepted ?? (session.socket as TLSSocket);
    this.#accepted = undefined;
    const peerCert = socket.getPeerCertificate(true);
    // Before the session is set up: its SETTINGS are not sent yet, so the
    // client sees a refused handshake and no stream is ever read.
    const verdict = this.#judge(peerCert);
    if ('refused' in verdict) {
      this.#stats.handshakeFailed(socket.remoteAddress, verdict.refused);
      session.destroy();
      socket.destroy();
      return;
    }
    const info: SessionInfo = {
      peerIdentity: verdict.peerIdentity,
      peerCert,
      peerAddress: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      streams: 0,
      idleTimer: undefined,
    };
    sessionInfo.set(session, info);
    this.#sessions.add(session);
    this.#armIdle(session, info);
    applyConnectionWindow(session, this.#tuning);
    session.once('remoteSettings', () => this.#handshakes.settled(info.peerAddress, info.peerPort));
    bindLiveness(session, socket, this.#keepalive, { peerAddress: info.peerAddress, peerIdentity: info.peerIdentity }, (err) =>
      this.#stats.sessionLost(info.peerIdentity, info.peerAddress, err),
    );
    this.#stats.sessionOpened(info.peerIdentity, info.peerAddress);
    session.on('error', (err) => this.#log.debug({ err, peer: info.peerIdentity }, 'HBONE session error'));
    session.on('frameError', (type, code) => this.#log.debug({ type, code, peer: info.peerIdentity }, 'HBONE frame error'));
    session.once('close', () => {
      clearTimeout(info.idleTimer);
      this.#sessions.delete(session);
    });
    // The real TLSSocket (not the session's proxy): its counters stay readable after close.
    socket.once('close', () => this.#stats.sessionClosed(info.peerIdentity, info.peerAddress, socket));
  }

  #armIdle(session: ServerHttp2Session, info: SessionInfo): void {
    clearTimeout(info.idleTimer);
    info.idleTimer = setTimeout(() => session.close(), this.#options.sessionIdleTimeoutMs ?? 600_000);
    info.idleTimer.unref();
  }

  async #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const session = stream.session as ServerHttp2Session | undefined;
    const info = session && sessionInfo.get(session);
    if (!session || !info) return void stream.close();
    applyWriteBuffer(stream, this.#tuning);
    retainWrites(stream);
    stream.on('error', (err) => this.#log.debug({ err, peer: info.peerIdentity }, 'HBONE stream error'));
    info.streams++;
    this.#stats.streamsOpen++;
    clearTimeout(info.idleTimer);
    stream.once('close', () => {
      this.#stats.streamsOpen--;
      if (--info.streams === 0 && !session.closed) this.#armIdle(session, info);
    });

    const authority = headers[':authority'] ?? '';
    const counted = (code: HboneErrorCode, reason: string): void =>
      this.#stats.rejected(code, { peerIdentity: info.peerIdentity, peerAddress: info.peerAddress, authority, reason });
    if (info.streams > this.#tuning.maxConcurrentStreams) {
      // Before any processing, so the peer may retry it elsewhere (RFC 9113 §8.7).
      counted('EHBONE_STREAM_LIMIT', `more than ${this.#tuning.maxConcurrentStreams} concurrent streams`);
      return resetStream(stream, H2_REFUSED_STREAM);
    }
    const reject = (status: number, code: HboneErrorCode, reason: string): void => {
      counted(code, reason);
      respondError(stream, status, code);
    };
    if (headers[':method'] !== 'CONNECT') return reject(405, 'EHBONE_BAD_METHOD', `method ${String(headers[':method'])}`);
    const destination = parseAuthority(authority);
    if (!destination) return reject(400, 'EHBONE_BAD_AUTHORITY', 'authority is not ip:port');

    const request: ConnectRequest = {
      peerIdentity: info.peerIdentity,
      authority,
      destination,
      peerAddress: info.peerAddress,
      peerPort: info.peerPort,
      headers,
    };
    const decision = await callHook<AuthorizeDecision>(
      () => this.#options.authorize?.(request) ?? { allow: true },
      { allow: false, reason: 'authorize hook failed' },
      this.#log,
    );
    if (!decision.allow) return reject(403, 'EHBONE_DENIED', decision.reason);
    const upstream = await callHook<UpstreamDecision>(() => this.#options.resolveUpstream(request), { refuse: 'resolveUpstream hook failed' }, this.#log);
    if ('refuse' in upstream)
      return upstream.limited ? reject(503, 'EHBONE_CONNECTION_LIMIT', upstream.refuse) : reject(400, 'EHBONE_REFUSED', upstream.refuse);
    if ('onClose' in upstream && upstream.onClose) {
      if (stream.closed || stream.destroyed) upstream.onClose();
      else stream.once('close', upstream.onClose);
    }
    if (stream.closed || stream.destroyed) return;
    if ('accept' in upstream) return this.#acceptStream(stream, request, upstream.accept);
    this.#connectUpstream(stream, request, upstream);
  }

  /** Bytes are the handler's to count; the stream is counted open until it closes. */
  #acceptStream(stream: ServerHttp2Stream, request: ConnectRequest, handler: StreamHandler): void {
    const started = Date.now();
    stream.respond({ ':status': 200 });
    this.#stats.streamOpened(request);
    stream.once('close', () => this.#stats.streamClosed(request, { aToB: 0, bToA: 0 }, Date.now() - started));
    try {
      handler(stream, request);
    } catch (err) {
      // A throwing handler costs its own stream, never the session.
      this.#log.error({ err, peer: request.peerIdentity, authority: request.authority }, 'HBONE stream handler threw');
      stream.destroy();
    }
  }

  #connectUpstream(stream: ServerHttp2Stream, request: ConnectRequest, target: { host: string; port: number; localAddress?: string }): void {
    const started = Date.now();
    const socket = this.#options.dialUpstream?.(target) ?? tcpConnect({ ...target, allowHalfOpen: true, noDelay: true });
    this.#stats.upstreamSockets++;
    socket.once('close', () => this.#stats.upstreamSockets--);
    const timer = setTimeout(
      () => socket.destroy(Object.assign(new Error('upstream connect timed out'), { code: 'ETIMEDOUT' })),
      this.#options.upstreamConnectTimeoutMs ?? 10_000,
    );
    const abandon = (): void => void socket.destroy();
    stream.once('close', abandon);
    const onConnectError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      stream.off('close', abandon);
      this.#stats.upstreamFailed(request, target, err);
      if (!stream.closed && !stream.destroyed) respondError(stream, 503, 'EHBONE_UPSTREAM_UNAVAILABLE');
    };
    socket.once('error', onConnectError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onConnectError);
      stream.off('close', abandon);
      if (stream.closed || stream.destroyed) return void socket.destroy();
      stream.respond({ ':status': 200 });
      this.#stats.streamOpened(request);
      splice(stream, socket, (result) => this.#stats.streamClosed(request, result, Date.now() - started));
    });
  }
}

function tlsOptions(identity: TlsIdentity) {
  return { key: identity.key, cert: identity.cert, ca: identity.ca, minVersion: TLS_MIN_VERSION, ciphers: TLS13_CIPHERSUITES } as const;
}

/**
 * A final answer on a stream that will not be tunnelled. The RST(NO_ERROR)
 * after the response frees the stream even if the peer never ends its side.
 */
function respondError(stream: ServerHttp2Stream, status: number, code: HboneErrorCode): void {
  if (stream.closed || stream.destroyed) return;
  try {
    if (!stream.headersSent) stream.respond({ ':status': status, [ERROR_HEADER]: code }, { endStream: true });
  } catch {
    // The stream raced to a close; nothing left to tell the peer.
  }
  stream.close();
}
