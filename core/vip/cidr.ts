/**
 * An IP prefix as integers, so the allocator can hash and probe over it
 * without string juggling. BigInt because IPv6 ranges do not fit a number.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { VipError } from './errors.js';

export interface CidrRange {
  /** Normalised text form, e.g. "240.240.0.0/16". */
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  /** First and last address that may be handed out (network/broadcast already excluded). */
  readonly first: bigint;
  readonly last: bigint;
  /** How many addresses may be handed out: last - first + 1. */
  readonly size: bigint;
}

/**
 * Parse and validate "a.b.c.d/n" or "x::/n". Host bits must be zero: a range
 * written "240.240.1.0/16" is almost always a typo, and silently masking it
 * would move every service's VIP.
 */
export function parseCidr(text: string): CidrRange {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? '' : text.slice(0, slash);
  const bits = slash < 0 ? '' : text.slice(slash + 1);
  // node:net is strict (ipaddr.js also accepts "240.240" and hex octets).
  const kind = isIP(addr);
  const family = kind === 6 ? 6 : 4;
  const width = family === 6 ? 128 : 32;
  if (kind === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > width) {
    throw new VipError('EVIP_INVALID_CIDR', `VIP range ${JSON.stringify(text)} is not a CIDR like 240.240.0.0/16`, { cidr: text });
  }
  const prefix = Number(bits);
  const network = toBigInt(addr);
  const hostBits = BigInt(width - prefix);
  const hostMask = (1n << hostBits) - 1n;
  if ((network & hostMask) !== 0n) {
    const suggestion = `${fromBigInt(network & ~hostMask, family)}/${prefix}`;
    throw new VipError('EVIP_INVALID_CIDR', `VIP range ${text} has host bits set; did you mean ${suggestion}?`, { cidr: text, suggestion });
  }
  const top = network | hostMask;
  // Skip the network and broadcast addresses (for IPv6: the subnet-router
  // anycast address and the all-ones address) where the range is big enough
  // to spare them; /31, /32, /127 and /128 have no such addresses to spare.
  const spare = hostBits >= 2n;
  const first = spare ? network + 1n : network;
  const last = spare ? top - 1n : top;
  return { cidr: `${fromBigInt(network, family)}/${prefix}`, family, prefix, first, last, size: last - first + 1n };
}

/** Address text -> integer, or undefined when it is not an address of `family`. */
export function addressToBigInt(text: string, family: 4 | 6): bigint | undefined {
  return isIP(text) === family ? toBigInt(text) : undefined;
}

function toBigInt(text: string): bigint {
  let n = 0n;
  for (const byte of ipaddr.parse(text).toByteArray()) n = (n << 8n) | BigInt(byte);
  return n;
}

export function fromBigInt(n: bigint, family: 4 | 6): string {
  const bytes: number[] = [];
  for (let i = family === 4 ? 4 : 16; i > 0; i--, n >>= 8n) bytes.unshift(Number(n & 0xffn));
  const ip = ipaddr.fromByteArray(bytes);
  return ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString();
}
