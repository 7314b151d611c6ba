/**
 * Responses the server writes itself (as opposed to relaying an upstream's):
 * mesh answers, negative answers and error replies. Pure: packet in, bytes out.
 */
import { isIP } from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** Plain DNS over UDP without EDNS (RFC 1035). */
const CLASSIC_UDP_LIMIT = 512;
/** What we advertise and honour at most: the DNS flag day 2020 value, safe from fragmentation. */
export const EDNS_UDP_SIZE = 1232;

const HEADER_BYTES = 12;
const QR = 0x8000;
const OPCODE_MASK = 0x7800;

/** Raw header fields, readable even when the rest of the packet is garbage. */
export interface RawHeader {
  id: number;
  isResponse: boolean;
  opcode: number;
  recursionDesired: boolean;
}

export function readHeader(message: Buffer): RawHeader | undefined {
  if (message.length < HEADER_BYTES) return undefined;
  const flags = message.readUInt16BE(2);
  return {
    id: message.readUInt16BE(0),
    isResponse: (flags & QR) !== 0,
    opcode: (flags & OPCODE_MASK) >> 11,
    recursionDesired: (flags & dnsPacket.RECURSION_DESIRED) !== 0,
  };
}

/**
 * Header-only reply (FORMERR for an undecodable query, NOTIMP for an opcode we
 * do not serve). Built by hand because dns-packet cannot encode what it could
 * not decode.
 */
export function headerOnlyReply(header: RawHeader, rcode: Rcode): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(header.id, 0);
  const rd = header.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0;
  out.writeUInt16BE(QR | (header.opcode << 11) | rd | dnsPacket.RECURSION_AVAILABLE | rcode, 2);
  return out;
}

export interface ReplyOptions {
  rcode: Rcode;
  /** Set for names the mesh owns: our answer is the source of truth, not a cache. */
  authoritative: boolean;
  answers?: Answer[];
  /** UDP replies are truncated (TC set, answers dropped) above the client's limit so it retries over TCP. */
  udp: boolean;
}

/** A reply to a decoded query: its id, question and RD echoed, EDNS answered with EDNS. */
export function reply(query: DecodedPacket, options: ReplyOptions): Buffer {
  const opt = clientOpt(query);
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags:
      (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) |
      dnsPacket.RECURSION_AVAILABLE |
      (options.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
      options.rcode,
    questions: query.questions ?? [],
    answers: options.answers ?? [],
    additionals: opt
      ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  };
  let out = dnsPacket.encode(packet);
  if (options.udp && out.length > udpLimit(query)) {
    out = dnsPacket.encode({ ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  return out;
}

/** A and AAAA records for the asked name (echoed as asked, so 0x20-randomising clients accept it). */
export function addressRecords(name: string, type: string, addresses: readonly string[], ttl: number): Answer[] {
  const family = type === 'A' ? 4 : type === 'AAAA' ? 6 : 0;
  return addresses
    .filter((address) => isIP(address) === family)
    .map((address): Answer => ({ type: family === 4 ? 'A' : 'AAAA', name, ttl, class: 'IN', data: address }));
}

function clientOpt(query: DecodedPacket): { udpPayloadSize: number } | undefined {
  const opt = (query.additionals ?? []).find((a) => a.type === 'OPT');
  return opt && 'udpPayloadSize' in opt ? opt : undefined;
}

function udpLimit(query: DecodedPacket): number {
  const opt = clientOpt(query);
  return opt ? Math.max(CLASSIC_UDP_LIMIT, Math.min(opt.udpPayloadSize, EDNS_UDP_SIZE)) : CLASSIC_UDP_LIMIT;
}
