import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import { logger, type Logger } from '../logging.js';
import { formatAuthority, parseAuthority } from './authority.js';
import { ERROR_HEADER, errorFromReset, errorFromStatus, errorFromTransport, H2_CANCEL, H2_REFUSED_STREAM, HboneError, type HboneErrorCode } from './errors.js';
import { DEFAULT_KEEPALIVE, type Keepalive } from './liveness.js';
import { SessionPool } from './pool.js';
import { PooledSession, type Peer, type SessionParams } from './session.js';
import { identityMatches, type IdentityMatcher, type TlsIdentity } from './tls-identity.js';
import { retainWrites } from './write-retention.js';
import { applyWriteBuffer, resolveTuning, type H2Tuning } from './tuning.js';

/** The tunnel: a Duplex of raw bytes. Errors it emits are HboneErrors. */
export type HboneStream = ClientHttp2Stream;

export interface HboneClientOptions {
  /**
   * TLS material for a source workload, called on every new session, never
   * cached here: return the current certificate and rotated ones are used by
   * the next dial without a restart.
   */
  getSecureContext: (sourceIdentity: string) => TlsIdentity | Promise<TlsIdentity>;
  /** Streams per session before a second session is opened (default 100, as ztunnel). */
  maxStreamsPerSession?: number;
  /** Close a session idle this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Dial (TCP, TLS, the server's SETTINGS) and CONNECT response deadline (default 10 s). */
  connectTimeoutMs?: number;
  /** PING keepalive of pooled sessions (liveness.ts). */
  keepalive?: Partial<Keepalive>;
  tuning?: Partial<H2Tuning>;
  /**
   * A check of the server certificate beyond its chain (revocation), at every
   * dial. Its Error should carry code EHBONE_PEER_IDENTITY: the dial then fails as that.
   */
  checkPeer?: SessionParams['checkPeer'];
  /**
   * A dial that reached the peer and failed in TLS or before its SETTINGS
   * (reason: the innermost error code, e.g. EIDENTITY_WRONG_TRUST_DOMAIN when
   * the server's certificate is refused here), for the caller's metrics; it is logged already.
   */
  onHandshakeFailed?: SessionParams['onHandshakeFailed'];
  log?: Logger;
}

export interface ConnectOptions {
  /** Where the peer's HBONE server listens (its node address, port 15008). */
  peer: Peer;
  /** Original destination `ip:port` (IPv6 in brackets). */
  authority: string;
  /** SPIFFE ID of the source workload: picks the client certificate and the pool. */
  source: string;
  /** The server must present this identity (else EHBONE_PEER_IDENTITY). */
  expectedServerIdentity?: IdentityMatcher;
  /** Extra request headers (traceparent, baggage, ...). */
  headers?: OutgoingHttpHeaders;
}

/** One pooled session, as `ambit tunnels` shows it. */
export interface TunnelInfo {
  source: string;
  peer: string;
  serverIdentity: string | undefined;
  streamsActive: number;
  streamsTotal: number;
  bytesSent: number;
  bytesReceived: number;
  openedAt: number;
  draining: boolean;
}

export interface HboneClientStats {
  sessionsActive: number;
  sessionsTotal: number;
  streamsActive: number;
  streamsTotal: number;
  bytesSent: number;
  bytesReceived: number;
  failures: Partial<Record<HboneErrorCode, number>>;
}

/**
 * The outbound side of HBONE: pooled mTLS HTTP/2 sessions to peer nodes and
 * one CONNECT stream per tunnelled TCP connection. `connect` resolves once
 * the peer answered 200, so a denial or a failed upstream is a rejected
 * promise with a stable code rather than a socket that closes for no reason.
 */
export class HboneClient {
  readonly #pool: SessionPool;
  readonly #options: HboneClientOptions;
  readonly #tuning: H2Tuning;
  readonly #failures: Partial<Record<HboneErrorCode, number>> = {};
  #streamsTotal = 0;
  #streamsActive = 0;
  #closed = false;

  constructor(options: HboneClientOptions) {
    this.#options = options;
    this.#tuning = resolveTuning(options.tuning);
    const log = options.log ?? logger('hbone');
    this.#pool = new SessionPool(
      { maxStreamsPerSession: options.maxStreamsPerSession ?? 100 },
      (params) =>
        new PooledSession({
          ...params,
          identity: () => options.getSecureContext(params.source),
          tuning: this.#tuning,
          connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
          idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
          keepalive: { ...DEFAULT_KEEPALIVE, ...options.keepalive },
          checkPeer: options.checkPeer,
          onHandshakeFailed: options.onHandshakeFailed,
          log,
        }),
    );
  }

  async connect(options: ConnectOptions): Promise<HboneStream> {
    const context = { authority: options.authority, peer: formatAuthority(options.peer.host, options.peer.port), source: options.source };
    try {
      if (this.#closed) throw new HboneError('EHBONE_CLOSED', 'HBONE client closed', context);
      if (!parseAuthority(options.authority)) {
        throw new HboneError('EHBONE_BAD_AUTHORITY', `HBONE authority ${JSON.stringify(options.authority)} is not ip:port`, context);
      }
      // One retry, and only where the request provably never reached the
      // peer's application: a pooled session that had died unseen, a stream
      // refused by GOAWAY or REFUSED_STREAM.
      for (let attempt = 0; ; attempt++) {
        const session = this.#pool.acquire(options.source, options.peer);
        const reused = session.connected;
        try {
          return await this.#open(session, options, context);
        } catch (err) {
          if (attempt > 0 || !(err instanceof HboneError) || !isRetryable(err, reused)) throw err;
        }
      }
    } catch (err) {
      const code = (err as HboneError).code;
      this.#failures[code] = (this.#failures[code] ?? 0) + 1;
      throw err;
    }
  }

  /**
   * Runs checkPeer again on every open session (after the revocation list
   * changed) and destroys, with their streams, those whose server it now refuses.
   */
  recheckPeers(): number {
    let destroyed = 0;
    for (const session of this.#pool.all()) if (session.recheck()) destroyed++;
    return destroyed;
  }

  /** New sessions for `source` (or all) from now on; open streams finish on the old ones. */
  rotate(source?: string): void {
    this.#pool.drain((s) => source === undefined || s.source === source);
  }

  stats(): HboneClientStats {
    const bytes = this.#pool.bytes();
    return {
      sessionsActive: this.#pool.all().filter((s) => !s.closed).length,
      sessionsTotal: this.#pool.sessionsTotal,
      streamsActive: this.#streamsActive,
      streamsTotal: this.#streamsTotal,
      bytesSent: bytes.written,
      bytesReceived: bytes.read,
      failures: { ...this.#failures },
    };
  }

  /** The live sessions: source identity, peer, streams and bytes of each. */
  tunnels(): TunnelInfo[] {
    return this.#pool
      .all()
      .filter((s) => !s.closed)
      .map((s) => ({
        source: s.source,
        peer: formatAuthority(s.peer.host, s.peer.port),
        serverIdentity: s.serverIdentity,
        streamsActive: s.active,
        streamsTotal: s.total,
        bytesSent: s.bytesWritten,
        bytesReceived: s.bytesRead,
        openedAt: s.openedAt,
        draining: s.draining,
      }));
  }

  close(): void {
    this.#closed = true;
    this.#pool.destroy();
  }

  async #open(session: PooledSession, options: ConnectOptions, context: Record<string, unknown>): Promise<HboneStream> {
    let stream: ClientHttp2Stream;
    const deadline = this.#options.connectTimeoutMs ?? 10_000;
    try {
      await session.ready;
      if (options.expectedServerIdentity && !(session.serverIdentity && identityMatches(options.expectedServerIdentity, session.serverIdentity))) {
        throw new HboneError(
          'EHBONE_PEER_IDENTITY',
          `HBONE peer ${String(context.peer)} is ${session.serverIdentity ?? 'without SPIFFE ID'}, not the expected identity`,
          { ...context, serverIdentity: session.serverIdentity },
        );
      }
      stream = session.session!.request({ ...options.headers, ':method': 'CONNECT', ':authority': options.authority }, { endStream: false });
      applyWriteBuffer(stream, this.#tuning);
      retainWrites(stream);
    } catch (err) {
      session.give();
      if (err instanceof HboneError) throw err;
      // request() throws synchronously once the session is going away.
      session.draining = true;
      throw session.closed ? session.failure(context) : errorFromTransport(err, context);
    }
    this.#streamsTotal++;
    this.#streamsActive++;
    stream.once('close', () => {
      this.#streamsActive--;
      session.give();
    });
    return new Promise<HboneStream>((resolve, reject) => {
      let settled = false;
      const fail = (err: HboneError): void => {
        if (settled) return;
        settled = true;
        if (err.code === 'EHBONE_STREAM_RESET' && err.context.rstCode === H2_REFUSED_STREAM) session.refusedStream();
        clearTimeout(timer);
        stream.off('error', onEarlyError);
        stream.on('error', () => undefined);
        if (!stream.closed && !stream.destroyed) stream.close(H2_CANCEL);
        reject(err);
      };
      const onEarlyError = (err: NodeJS.ErrnoException): void => fail(streamError(stream, session, err, context));
      const timer = setTimeout(
        () => fail(new HboneError('EHBONE_TIMEOUT', `HBONE CONNECT to ${String(context.authority)} via ${String(context.peer)} timed out`, context)),
        deadline,
      );
      stream.once('error', onEarlyError);
      // A session that dies cancels its streams before it emits its own
      // error; a turn later that error (TLS alert, reset) is known.
      stream.once('close', () => setImmediate(() => fail(streamError(stream, session, undefined, context))));
      stream.once('response', (headers) => {
        const status = Number(headers[':status']);
        if (status !== 200) return fail(errorFromStatus(status, headers[ERROR_HEADER], context));
        settled = true;
        clearTimeout(timer);
        stream.off('error', onEarlyError);
        typeLaterErrors(stream, context);
        resolve(stream);
      });
    });
  }
}

function streamError(stream: ClientHttp2Stream, session: PooledSession, err: NodeJS.ErrnoException | undefined, context: Record<string, unknown>): HboneError {
  const rst = stream.rstCode ?? 0;
  // A reset the peer sent for this stream says most.
  if (rst !== 0 && rst !== H2_CANCEL && (!err || err.code === 'ERR_HTTP2_STREAM_ERROR')) return errorFromReset(rst, context, err);
  // Streams cancelled because their session died: the session's error (TLS
  // alert, socket reset, GOAWAY) is the cause worth reporting.
  if (session.errored || session.closed) return session.failure(context);
  if (err && err.code !== 'ERR_HTTP2_STREAM_ERROR') return errorFromTransport(err, context);
  if (rst !== 0) return errorFromReset(rst, context, err);
  return errorFromTransport(new Error('stream closed before a response'), context);
}

function isRetryable(err: HboneError, reusedSession: boolean): boolean {
  if (err.code === 'EHBONE_STREAM_RESET') return err.context.rstCode === H2_REFUSED_STREAM;
  return reusedSession && err.code === 'EHBONE_SESSION_CLOSED';
}

/**
 * After the tunnel is up, errors surface on the stream itself. Wrapping the
 * stream's `_destroy` callback (the Duplex extension point every 'error'
 * passes through) types them without a second stream in the data path.
 */
function typeLaterErrors(stream: ClientHttp2Stream, context: Record<string, unknown>): void {
  // Saved to be called with the stream as `this` (destroy.call below), never detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const destroy = stream._destroy;
  stream._destroy = function (this: ClientHttp2Stream, error, callback) {
    destroy.call(this, error, (e?: Error | null) => {
      if (!e || e instanceof HboneError) return callback(e);
      const code = (e as NodeJS.ErrnoException).code;
      callback(code === 'ERR_HTTP2_STREAM_ERROR' ? errorFromReset(this.rstCode ?? 0, context, e) : errorFromTransport(e, context));
    });
  };
}
