/**
 * Who owns the client end of a captured connection. REDIRECT hands ambitd the
 * accepted socket; the application's own socket is still in the kernel's TCP
 * table with its owner uid, keyed by its local address and port (which is the
 * peer address of our accepted socket). This is where the outbound identity
 * comes from: the kernel, never anything the application sends.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { AmbitError } from '../core/errors.js';
import { originalDstAddon } from '../core/net/original-dst.js';

export class SocketOwnerError extends AmbitError {}

/**
 * uid of the client socket `client` -> `original` (its own view of the
 * connection: REDIRECT changed only our side). An exact sock_diag lookup in
 * the native addon costs a few microseconds; reading /proc/net/tcp costs
 * about a millisecond per connection (the kernel prints the whole table and
 * walks the host-wide hash to do it), which capped new connections at a few
 * hundred per second. /proc stays as the fallback for an addon built before
 * the lookup existed.
 */
export async function capturedSocketOwnerUid(client: { address: string; port: number }, original: { address: string; port: number; family: 4 | 6 }): Promise<number> {
  const lookup = originalDstAddon().socketOwnerUid;
  if (!lookup) return socketOwnerUid(client.address, client.port);
  const unmap = (ip: string): string => (original.family === 4 && ip.startsWith('::ffff:') ? ip.slice(7) : ip);
  try {
    return lookup(original.family, unmap(client.address), client.port, unmap(original.address), original.port);
  } catch (err) {
    throw new SocketOwnerError('ESOCKET_OWNER_UNKNOWN', `no local socket ${client.address}:${client.port} -> ${original.address}:${original.port}: the client is not on this host (${(err as Error).message})`, { ...client });
  }
}

/** uid of the socket bound to `address:port` (the client side of a local connection). */
export async function socketOwnerUid(address: string, port: number, procNet = '/proc/net'): Promise<number> {
  const ip = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  const v4 = isIPv4(ip);
  const needle = `${v4 ? hexV4(ip) : hexV6(ip)}:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const table = await readFile(`${procNet}/${v4 ? 'tcp' : 'tcp6'}`, 'utf8');
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // fields: sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
    if (fields.length > 7 && `${fields[1]} ` === needle) return Number(fields[7]);
  }
  throw new SocketOwnerError('ESOCKET_OWNER_UNKNOWN', `no local socket ${address}:${port} in ${procNet}/${v4 ? 'tcp' : 'tcp6'}: the client is not on this host`, { address, port });
}

/** The kernel prints each 32-bit word in host byte order (little endian here). */
function word(bytes: number[]): string {
  return bytes
    .slice()
    .reverse()
    .map((b) => b.toString(16).toUpperCase().padStart(2, '0'))
    .join('');
}

function hexV4(ip: string): string {
  return word(ip.split('.').map(Number));
}

function hexV6(ip: string): string {
  const groups = expandV6(ip);
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  return [0, 4, 8, 12].map((i) => word(bytes.slice(i, i + 4))).join('');
}

function expandV6(ip: string): number[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}
