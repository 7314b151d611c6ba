/**
 * Just enough RFC 6455 for tests (Node 20 ships neither a WebSocket server
 * nor, without a flag, a client): the opening handshake on both sides and
 * single-frame text messages, masked from the client as the RFC requires.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { asHttpSocket } from '../../waypoint/stream-socket.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;

export const acceptKey = (key: string): string =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** One final frame; payloads up to 64 KiB. */
export function encodeFrame(text: string, masked: boolean, opcode = OP_TEXT): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head =
    len < 126 ? Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | len]) : Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = randomBytes(4);
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

/** Frames as they arrive on `stream`: each resolves `next()` with its opcode and text. */
export class FrameReader {
  #buf = Buffer.alloc(0);
  readonly #frames: { opcode: number; text: string }[] = [];
  readonly #waiting: ((f: { opcode: number; text: string } | undefined) => void)[] = [];
  #ended = false;

  constructor(stream: Duplex, head: Buffer = Buffer.alloc(0)) {
    this.#push(head);
    stream.on('data', (chunk: Buffer) => this.#push(chunk));
    stream.once('close', () => {
      this.#ended = true;
      for (const w of this.#waiting.splice(0)) w(undefined);
    });
  }

  /** The next frame, or undefined once the connection closed. */
  next(): Promise<{ opcode: number; text: string } | undefined> {
    const f = this.#frames.shift();
    if (f || this.#ended) return Promise.resolve(f);
    return new Promise((r) => this.#waiting.push(r));
  }

  #push(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#buf.length < 2) return;
      const opcode = this.#buf[0]! & 0x0f;
      const masked = (this.#buf[1]! & 0x80) !== 0;
      let len = this.#buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.#buf.length < 4) return;
        len = this.#buf.readUInt16BE(2);
        at = 4;
      }
      const mask = masked ? this.#buf.subarray(at, at + 4) : undefined;
      if (masked) at += 4;
      if (this.#buf.length < at + len) return;
      const payload = Buffer.from(this.#buf.subarray(at, at + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      this.#buf = this.#buf.subarray(at + len);
      const frame = { opcode, text: payload.toString() };
      const w = this.#waiting.shift();
      if (w) w(frame);
      else this.#frames.push(frame);
    }
  }
}

/** The server side: answers the handshake, then echoes each text message prefixed with `prefix`, and closes on a close frame. */
export function serveEcho(req: IncomingMessage, socket: Duplex, head: Buffer, prefix: string): void {
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
  );
  const reader = new FrameReader(socket, head);
  void (async () => {
    for (let f = await reader.next(); f; f = await reader.next()) {
      if (f.opcode === OP_CLOSE) {
        socket.end(encodeFrame('', false, OP_CLOSE));
        return;
      }
      socket.write(encodeFrame(prefix + f.text, false));
    }
  })();
}

export interface ClientWebSocket {
  status: number;
  headers: IncomingMessage['headers'];
  /** Set when the handshake succeeded. */
  socket?: Duplex;
  reader?: FrameReader;
  /** The response body when the upgrade was refused. */
  body?: string;
  send(text: string): void;
  close(): void;
}

/** The client side over an already open tunnel: handshake (checking Sec-WebSocket-Accept), then masked text frames. */
export function openWebSocket(tunnel: Duplex, host: string, path: string, headers: Record<string, string> = {}): Promise<ClientWebSocket> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      createConnection: () => asHttpSocket(tunnel),
      host,
      path,
      headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13', ...headers },
    });
    req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (res.headers['sec-websocket-accept'] !== acceptKey(key)) return reject(new Error('bad Sec-WebSocket-Accept'));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        socket,
        reader: new FrameReader(socket, head),
        send: (text) => void socket.write(encodeFrame(text, true)),
        // The close frame, then our FIN: the endpoint answers with its own close frame and FIN.
        close: () => void socket.end(encodeFrame('', true, OP_CLOSE)),
      });
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), send: () => undefined, close: () => undefined }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
