/**
 * DNS test parts on loopback only: a fake upstream resolver (UDP + TCP on one
 * port of 127.0.0.2) that records what it answered, and raw UDP/TCP clients
 * that send exact bytes, so tests can check ids and byte-for-byte relaying.
 * Nothing here talks to a real resolver.
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { ExecutionContext } from 'ava';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import { FrameReader, frame } from '../../daemon/dns/tcp-framing.js';

export interface FakeUpstream {
  address: string;
  port: number;
  /** "address:port" for MeshDnsServer's upstreams option. */
  spec: string;
  /** Every query it received, decoded, in order. */
  queries: DecodedPacket[];
  /** The exact bytes of its last reply. */
  lastReply: Buffer | undefined;
}

export type Responder = (query: DecodedPacket) => Answer[] | 'drop';

/** Answers every A query with 192.0.2.<n> and a TXT marker, so relays are recognisable. */
export const exampleAnswers: Responder = (query) => {
  const q = query.questions![0]!;
  return q.type === 'A'
    ? [
        { type: 'A', name: q.name, ttl: 123, class: 'IN', data: '192.0.2.10' },
        { type: 'TXT', name: q.name, ttl: 123, class: 'IN', data: 'from-fake-upstream' },
      ]
    : [];
};

export async function startFakeUpstream(t: ExecutionContext, respond: Responder = exampleAnswers, address = '127.0.0.2'): Promise<FakeUpstream> {
  const udp = createSocket('udp4');
  udp.bind(0, address);
  await once(udp, 'listening');
  const port = udp.address().port;
  const tcp = createServer();
  tcp.listen(port, address);
  await once(tcp, 'listening');
  const sockets = new Set<Socket>();
  const state: FakeUpstream = { address, port, spec: `${address}:${port}`, queries: [], lastReply: undefined };

  const answer = (message: Buffer): Buffer | undefined => {
    const query = dnsPacket.decode(message);
    state.queries.push(query);
    const answers = respond(query);
    if (answers === 'drop') return undefined;
    const out = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
      questions: query.questions,
      answers,
    });
    state.lastReply = out;
    return out;
  };
  udp.on('message', (message, rinfo) => {
    const out = answer(message);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const out = answer(message);
        if (out) socket.write(frame(out));
      }
    });
  });
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    udp.close();
    await new Promise((resolve) => tcp.close(resolve));
  });
  return state;
}

export function query(name: string, type: Answer['type'] = 'A', id = 4242, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type, name, class: 'IN' }], ...extra });
}

/** Send raw bytes over UDP and wait for one datagram back (or reject after timeoutMs). */
export async function udpExchange(port: number, message: Buffer, timeoutMs = 3000, host = '127.0.0.1'): Promise<Buffer> {
  const socket = createSocket('udp4');
  try {
    socket.connect(port, host);
    await once(socket, 'connect');
    socket.send(message);
    const reply = once(socket, 'message') as Promise<[Buffer]>;
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no UDP reply within ${timeoutMs} ms`)), timeoutMs).unref());
    return (await Promise.race([reply, timeout]))[0];
  } finally {
    socket.close();
  }
}

/** Send each message framed on one TCP connection; resolve with the replies, in arrival order. */
export async function tcpExchange(port: number, messages: Buffer[], host = '127.0.0.1'): Promise<Buffer[]> {
  const socket = connect({ port, host });
  await once(socket, 'connect');
  const reader = new FrameReader();
  const replies: Buffer[] = [];
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        replies.push(...reader.push(chunk));
        if (replies.length >= messages.length) resolve(replies);
      });
      // One write for all: pipelined queries, split and joined however TCP likes.
      socket.write(Buffer.concat(messages.map(frame)));
      setTimeout(() => reject(new Error('no TCP replies within 3 s')), 3000).unref();
    });
  } finally {
    socket.destroy();
  }
}

/** A decoded reply with the fields dns-packet decodes but its types omit. */
export interface Reply extends Omit<DecodedPacket, 'answers'> {
  rcode: string;
  answers: { name: string; type: string; ttl?: number; data?: unknown }[];
}

export const decode = (reply: Buffer): Reply => dnsPacket.decode(reply) as unknown as Reply;
