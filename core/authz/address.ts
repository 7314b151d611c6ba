/**
 * Addresses and CIDR ranges for ipBlocks, remoteIpBlocks and the *.ip
 * conditions. IPv4 is an unsigned 32-bit integer, so the common case is a
 * mask and a compare with no allocation; IPv6 goes through ipaddr.js. An
 * IPv4-mapped IPv6 address (dual-stack sockets) compares as IPv4, as Envoy does.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Address = number | ipaddr.IPv6;

const MAPPED = '::ffff:';

/** `text` must be a dotted quad (isIP said 4). */
function ipv4ToInt(text: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/** undefined for anything that is not an IP address. */
export function parseAddress(text: string | undefined): Address | undefined {
  if (text === undefined) return undefined;
  const family = isIP(text);
  if (family === 4) return ipv4ToInt(text);
  if (family === 0) return undefined;
  const tail = text.slice(MAPPED.length);
  if (text.slice(0, MAPPED.length).toLowerCase() === MAPPED && isIP(tail) === 4) return ipv4ToInt(tail);
  const v6 = ipaddr.IPv6.parse(text);
  if (!v6.isIPv4MappedAddress()) return v6;
  const [a, b, c, d] = v6.toIPv4Address().octets as [number, number, number, number];
  return ((a * 256 + b) * 256 + c) * 256 + d;
}

export interface Ranges {
  /** [network, mask], unsigned. */
  v4: [number, number][];
  v6: [ipaddr.IPv6, number][];
}

/** Validated IPs / CIDRs (the config layer checks them); a bare IP is a host range. */
export function parseRanges(values: readonly string[]): Ranges {
  const ranges: Ranges = { v4: [], v6: [] };
  for (const v of values) {
    const slash = v.indexOf('/');
    const ip = slash < 0 ? v : v.slice(0, slash);
    const addr = parseAddress(ip);
    if (typeof addr === 'number') {
      // An IPv4-mapped IPv6 range (::ffff:a.b.c.d/104) keeps its last 32 bits.
      const bits = slash < 0 ? 32 : Math.max(0, Number(v.slice(slash + 1)) - (ip.includes(':') ? 96 : 0));
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      ranges.v4.push([(addr & mask) >>> 0, mask]);
    } else if (addr) ranges.v6.push([addr, slash < 0 ? 128 : Number(v.slice(slash + 1))]);
  }
  return ranges;
}

export function inRanges(addr: Address, { v4, v6 }: Ranges): boolean {
  if (typeof addr === 'number') {
    for (const [network, mask] of v4) if ((addr & mask) >>> 0 === network) return true;
    return false;
  }
  for (const [range, bits] of v6) if (addr.match(range, bits)) return true;
  return false;
}
