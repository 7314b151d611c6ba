import type { ClientHttp2Session, Http2Stream, ServerHttp2Session, Settings } from 'node:http2';

/**
 * HTTP/2 flow-control and framing knobs, shared by both ends so a daemon's
 * client and server agree. HTTP/2's 64 KiB default windows stall a bulk
 * stream waiting for WINDOW_UPDATE and 16 KiB frames mean one JS 'data' event
 * per 16 KiB, so both are raised; 4 MiB stream / 16 MiB connection windows
 * are ztunnel's values. bench/hbone-throughput.ts measures alternatives; on
 * the shared 2-core CI host the differences between them were within noise,
 * so these stay until a quiet machine says otherwise.
 */
export interface H2Tuning {
  /** SETTINGS_INITIAL_WINDOW_SIZE: bytes in flight per stream. */
  streamWindow: number;
  /** Connection-level receive window (session.setLocalWindowSize). */
  connectionWindow: number;
  /** SETTINGS_MAX_FRAME_SIZE we accept (16 KiB .. 16 MiB - 1). */
  maxFrameSize: number;
  /**
   * Streams one connection may have open on the server; the one past it is
   * refused with RST_STREAM REFUSED_STREAM and the connection carries on.
   * Not sent as SETTINGS_MAX_CONCURRENT_STREAMS: nghttp2 (under node:http2)
   * treats a stream past an acknowledged limit as a connection error and
   * answers GOAWAY PROTOCOL_ERROR, which kills every other stream of that
   * peer; RFC 9113 §5.1.2 asks only for a stream error. So the server
   * enforces the limit itself (server.ts) and the client learns it from the
   * refusal (session.ts).
   */
  maxConcurrentStreams: number;
  /**
   * Bytes a CONNECT stream buffers for sending before write() asks the
   * source to wait (Node's default is 16 KiB). A TCP read hands over up to
   * 64 KiB, so with the default every chunk paused the source socket and
   * waited a whole event-loop turn for 'drain' before the next read: the
   * tunnel ran one chunk at a time, with epoll_ctl calls for each pause.
   */
  streamWriteBuffer: number;
}

export const DEFAULT_TUNING: H2Tuning = {
  streamWindow: 4 * 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  maxFrameSize: 64 * 1024,
  maxConcurrentStreams: 1000,
  streamWriteBuffer: 256 * 1024,
};

export function resolveTuning(overrides: Partial<H2Tuning> = {}): H2Tuning {
  const t = { ...DEFAULT_TUNING, ...overrides };
  t.maxFrameSize = Math.min(Math.max(t.maxFrameSize, 16384), 16777215);
  t.streamWindow = Math.min(Math.max(t.streamWindow, 65535), 2147483647);
  t.connectionWindow = Math.min(Math.max(t.connectionWindow, 65535), 2147483647);
  return t;
}

export function h2Settings(t: H2Tuning): Settings {
  return {
    initialWindowSize: t.streamWindow,
    maxFrameSize: t.maxFrameSize,
    enablePush: false,
    // HBONE requests carry two pseudo-headers and a few small ones.
    maxHeaderListSize: 64 * 1024,
  };
}

/**
 * node:http2 refuses new streams (ENHANCE_YOUR_CALM) once a session holds
 * more than maxSessionMemory MiB; a full connection window of unread data
 * must fit, with room for the send side.
 */
export function maxSessionMemoryMiB(t: H2Tuning): number {
  return Math.max(10, Math.ceil((t.connectionWindow * 3) / (1024 * 1024)));
}

/** The connection window can only be raised by a WINDOW_UPDATE once the session is up. */
export function applyConnectionWindow(session: ClientHttp2Session | ServerHttp2Session, t: H2Tuning): void {
  try {
    session.setLocalWindowSize(t.connectionWindow);
  } catch {
    // The session died between handshake and now; its own error path reports that.
  }
}

/**
 * Applies `streamWriteBuffer`. Node has no option for an Http2Stream's
 * highWaterMark; the Writable state holds it and write() reads it from there.
 */
export function applyWriteBuffer(stream: Http2Stream, t: H2Tuning): void {
  const state = (stream as unknown as { _writableState?: { highWaterMark?: number } })._writableState;
  if (state && typeof state.highWaterMark === 'number' && state.highWaterMark < t.streamWriteBuffer) state.highWaterMark = t.streamWriteBuffer;
}
