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
import { originalDstAddon, type OriginalDstAddon } from '../core/net/original-dst.js';

/**
 * Why a captured connection has no owner. Stable: ambitd logs it when it
 * resets such a connection, and the doctor and README point at it.
 */
export type SocketOwnerErrorCode =
  /** No socket on this host has the client's tuple (nor the source conntrack says it bound). */
  'ESOCKET_OWNER_UNKNOWN';

export class SocketOwnerError extends AmbitError<SocketOwnerErrorCode> {}

/** Both ends of a captured connection as ambitd's accepted socket sees them. */
export interface CapturedConnection {
  /** The client's address and port, as they reached ambitd. */
  client: { address: string; port: number };
  /** ambitd's own end (the outbound listener). */
  local: { address: string; port: number };
}

/**
 * uid of the client socket behind a captured connection: the client's own
 * view of it is `client` -> `original` (REDIRECT changed only our side). An
 * exact sock_diag lookup in the native addon costs a few microseconds;
 * reading /proc/net/tcp costs about a millisecond per connection (the kernel
 * prints the whole table and walks the host-wide hash to do it), which
 * capped new connections at a few hundred per second. /proc stays as the
 * fallback for an addon built before the lookup existed.
 *
 * When no socket has that tuple, netfilter may have rewritten the client's
 * source port to keep the redirected tuple unique (native/conntrack_origin.cc
 * says when); conntrack's original tuple names the source the client bound.
 */
export async function capturedSocketOwnerUid(conn: CapturedConnection, original: { address: string; port: number; family: 4 | 6 }): Promise<number> {
  const { client } = conn;
  const addon = originalDstAddon();
  const lookup = addon.socketOwnerUid;
  if (!lookup) return socketOwnerUid(client.address, client.port);
  const unmap = (ip: string): string => (original.family === 4 && ip.startsWith('::ffff:') ? ip.slice(7) : ip);
  const ownerOf = (source: { address: string; port: number }): number =>
    lookup(original.family, unmap(source.address), source.port, unmap(original.address), original.port);
  let missing: unknown;
  try {
    return ownerOf(client);
  } catch (err) {
    missing = err;
  }
  const bound = boundSource(addon, conn, original.family, unmap);
  if (bound && (bound.port !== client.port || bound.address !== unmap(client.address))) {
    try {
      return ownerOf(bound);
    } catch (err) {
      missing = err;
    }
  }
  const seen = bound ? ` (bound as ${bound.address}:${bound.port})` : '';
  throw new SocketOwnerError(
    'ESOCKET_OWNER_UNKNOWN',
    `no local socket ${client.address}:${client.port}${seen} -> ${original.address}:${original.port}: the client is not on this host (${(missing as Error).message})`,
    { ...client },
  );
}

/** The source the client bound, per conntrack; undefined when conntrack cannot say (no entry, no ctnetlink, an old addon). */
function boundSource(
  addon: OriginalDstAddon,
  conn: CapturedConnection,
  family: 4 | 6,
  unmap: (ip: string) => string,
): { address: string; port: number } | undefined {
  try {
    return addon.conntrackOriginalSource?.(family, unmap(conn.local.address), conn.local.port, unmap(conn.client.address), conn.client.port);
  } catch {
    return undefined;
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
  throw new SocketOwnerError(
    'ESOCKET_OWNER_UNKNOWN',
    `no local socket ${address}:${port} in ${procNet}/${v4 ? 'tcp' : 'tcp6'}: the client is not on this host`,
    { address, port },
  );
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
