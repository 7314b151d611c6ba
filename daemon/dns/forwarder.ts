/**
 * Relays a query the mesh does not own to the host's resolvers and returns
 * their answer byte for byte, except the id: each upstream attempt uses a
 * fresh random id from a fresh ephemeral port, so an off-path spoofer has to
 * guess both (the client's own id may be predictable), and the client's id
 * is put back before the answer is relayed.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { DnsError } from './errors.js';
import { FrameReader, frame } from './tcp-framing.js';
import { formatUpstream, type Upstream } from './upstreams.js';

export type Transport = 'udp' | 'tcp';

/** rcodes after which another upstream may know better, as glibc's res_send treats them. */
const TRY_NEXT = new Set([2 /* SERVFAIL */, 4 /* NOTIMP */, 5 /* REFUSED */]);

/**
 * Try each upstream in order within `budgetMs` overall, each attempt getting
 * an equal share of what is left so one dead server cannot eat the budget of
 * the next. Resolves with the first usable answer; rejects with a DnsError.
 */
export async function forwardQuery(query: Buffer, transport: Transport, upstreams: readonly Upstream[], budgetMs: number): Promise<Buffer> {
  if (upstreams.length === 0) throw new DnsError('EDNS_NO_UPSTREAM', 'no upstream resolver is configured');
  const deadline = Date.now() + budgetMs;
  const clientId = query.readUInt16BE(0);
  let fallback: Buffer | undefined;
  let lastError: unknown;
  for (let i = 0; i < upstreams.length; i++) {
    const upstream = upstreams[i]!;
    const timeoutMs = Math.max(1, Math.floor((deadline - Date.now()) / (upstreams.length - i)));
    try {
      const answer = await exchange(query, transport, upstream, timeoutMs);
      answer.writeUInt16BE(clientId, 0);
      if (!TRY_NEXT.has(answer.readUInt16BE(2) & 0xf)) return answer;
      fallback = answer;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
  }
  if (fallback) return fallback;
  throw lastError instanceof DnsError
    ? lastError
    : new DnsError('EDNS_UPSTREAM_UNREACHABLE', `no upstream resolver answered (${upstreams.map(formatUpstream).join(', ')})`, {}, { cause: lastError });
}

function exchange(query: Buffer, transport: Transport, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  const id = randomInt(0x10000);
  const message = Buffer.from(query);
  message.writeUInt16BE(id, 0);
  return transport === 'udp' ? udpExchange(message, id, upstream, timeoutMs) : tcpExchange(message, id, upstream, timeoutMs);
}

/** One connected UDP socket per attempt: the kernel drops datagrams from anyone but the upstream. */
function udpExchange(message: Buffer, id: number, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(upstream.address) === 6 ? 'udp6' : 'udp4');
    const attempt = new Attempt(upstream, timeoutMs, resolve, reject, () => socket.close());
    socket.on('error', (err) => attempt.fail(err));
    socket.on('message', (answer) => {
      if (isAnswerTo(answer, id)) attempt.succeed(answer);
    });
    // No connect callback: without one, a failed connect is reported as 'error'.
    socket.once('connect', () => socket.send(message, (err) => err && attempt.fail(err)));
    socket.connect(upstream.port, upstream.address);
  });
}

function tcpExchange(message: Buffer, id: number, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: upstream.address, port: upstream.port });
    const attempt = new Attempt(upstream, timeoutMs, resolve, reject, () => socket.destroy());
    const reader = new FrameReader();
    socket.on('error', (err) => attempt.fail(err));
    socket.on('close', () => attempt.fail(new Error('connection closed before an answer')));
    socket.on('data', (chunk: Buffer) => {
      const answer = reader.push(chunk).find((m) => isAnswerTo(m, id));
      if (answer) attempt.succeed(answer);
    });
    socket.write(frame(message));
  });
}

function isAnswerTo(answer: Buffer, id: number): boolean {
  return answer.length >= 12 && answer.readUInt16BE(0) === id && (answer.readUInt16BE(2) & 0x8000) !== 0;
}

/** One exchange with one upstream: the first of answer, error or timeout wins, then the socket is released. */
class Attempt {
  #done = false;
  readonly #timer: NodeJS.Timeout;
  readonly #upstream: Upstream;
  readonly #resolve: (answer: Buffer) => void;
  readonly #reject: (err: DnsError) => void;
  readonly #release: () => void;

  constructor(upstream: Upstream, timeoutMs: number, resolve: (answer: Buffer) => void, reject: (err: DnsError) => void, release: () => void) {
    this.#upstream = upstream;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#release = release;
    this.#timer = setTimeout(() => {
      if (this.#end()) {
        this.#reject(
          new DnsError('EDNS_UPSTREAM_TIMEOUT', `upstream ${formatUpstream(upstream)} did not answer within ${timeoutMs} ms`, {
            upstream: formatUpstream(upstream),
          }),
        );
      }
    }, timeoutMs);
  }

  succeed(answer: Buffer): void {
    if (this.#end()) this.#resolve(answer);
  }

  fail(err: Error): void {
    const where = formatUpstream(this.#upstream);
    if (this.#end()) this.#reject(new DnsError('EDNS_UPSTREAM_UNREACHABLE', `upstream ${where} failed: ${err.message}`, { upstream: where }, { cause: err }));
  }

  /** True for the first caller only. */
  #end(): boolean {
    if (this.#done) return false;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#release();
    return true;
  }
}
