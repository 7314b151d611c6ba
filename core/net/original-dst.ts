/**
 * The original destination of a connection that iptables REDIRECTed to us
 * (scripts/iptables sends enrolled services' outbound TCP to ambitd:15001).
 * The kernel keeps it in conntrack; native/original_dst.cc reads it with
 * getsockopt(SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST).
 *
 * A connection made straight to the listener (not redirected) has no NAT: if
 * conntrack runs in the namespace the kernel returns the listener's own address,
 * otherwise ENOENT. Callers must treat "original == local" as "not captured",
 * or a client dialling 15001 directly would make the daemon dial itself.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { AmbitError } from '../errors.js';
import { isErrorCode } from '../error-codes.js';

export interface OriginalDst {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface OriginalDstAddon {
  getOriginalDst: (fd: number, family: 4 | 6) => { address: string; port: number };
  /** native/socket_owner.cc; absent from addons built before it existed. */
  socketOwnerUid?: (family: 4 | 6, localIp: string, localPort: number, remoteIp: string, remotePort: number) => number;
  /** native/conntrack_origin.cc: the source the client bound, from the conntrack entry whose reply tuple is local -> remote. */
  conntrackOriginalSource?: (family: 4 | 6, localIp: string, localPort: number, remoteIp: string, remotePort: number) => { address: string; port: number };
  /** native/malloc_trim.cc: glibc's mallinfo2 (bytes); available is false on another libc. */
  mallocStats?: () => MallocStats;
  /** native/malloc_trim.cc: malloc_trim(0); true when memory went back to the kernel. */
  mallocTrim?: () => boolean;
  /** native/memory_pressure.cc: a full, memory-reducing V8 GC, now. */
  memoryPressure?: () => void;
}

export type MallocStats = { available: false } | { available: true; arena: number; inUse: number; free: number; mmapped: number; releasable: number };

/** Where `npm run build:native` puts the addon, seen from core/net (source) and dist/core/net (compiled). */
export const ADDON_PATHS: readonly string[] = ['../../native', '../../../native'].map((up) =>
  fileURLToPath(new URL(`${up}/build/Release/original_dst.node`, import.meta.url)),
);

/**
 * What fixes a missing addon, wherever ambit came from (a checkout and `npm i -g` both have
 * native/build.sh); dist/core/net/ sits three levels below the package root.
 */
const REBUILD = `run npm run build:native in ${fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '')} (it needs python3, make and g++), or install the .deb, which ships the addon built`;

/** Load the addon from the first path that exists; throws ENATIVE_MISSING when none does. */
export function loadOriginalDstAddon(paths: readonly string[] = ADDON_PATHS): OriginalDstAddon {
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    throw new AmbitError('ENATIVE_MISSING', `the SO_ORIGINAL_DST addon is not built (looked for ${paths.join(', ')}); ${REBUILD}`, { paths });
  }
  try {
    return createRequire(import.meta.url)(found) as OriginalDstAddon;
  } catch (error) {
    // Typically built for another Node ABI or architecture: a rebuild fixes it.
    throw new AmbitError(
      'ENATIVE_MISSING',
      `the SO_ORIGINAL_DST addon at ${found} does not load (${(error as Error).message}); ${REBUILD}`,
      { path: found },
      { cause: error },
    );
  }
}

let addon: OriginalDstAddon | undefined;

/** The addon, loaded once per process. */
export function originalDstAddon(): OriginalDstAddon {
  addon ??= loadOriginalDstAddon();
  return addon;
}

/**
 * Original destination of an accepted, REDIRECTed TCP socket. Throws an
 * AmbitError whose code is the errno name (ENOENT: no conntrack entry) or
 * ENATIVE_MISSING / ENOTCONN / EBADF when there is nothing to ask.
 */
export function originalDst(socket: net.Socket): OriginalDst {
  const fd = socketFd(socket);
  const family = conntrackFamily(socket.localAddress);
  try {
    return { ...originalDstAddon().getOriginalDst(fd, family), family };
  } catch (error) {
    // The addon names the errno (native/original_dst.cc); a code it does not set, or one not registered, is EORIGDST.
    const given = (error as { code?: unknown }).code;
    const code = typeof given === 'string' && isErrorCode(given) ? given : 'EORIGDST';
    throw new AmbitError(
      code,
      `original destination of ${socket.remoteAddress}:${socket.remotePort} -> ${socket.localAddress}:${socket.localPort}: ${(error as Error).message}`,
      { fd, family },
      { cause: error },
    );
  }
}

/** libuv keeps the descriptor on the private handle; it is -1 or absent once closed. */
function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new AmbitError('EBADF', 'socket has no file descriptor (closed, or not a TCP socket)');
  }
  return fd;
}

/**
 * Which table to ask follows the connection, not the socket: a dual-stack
 * listener on '::' accepts IPv4 as ::ffff:a.b.c.d, and conntrack holds those
 * under IPv4 (SOL_IP works on such an AF_INET6 socket).
 */
function conntrackFamily(localAddress: string | undefined): 4 | 6 {
  if (localAddress === undefined) throw new AmbitError('ENOTCONN', 'socket is not connected');
  if (net.isIPv4(localAddress)) return 4;
  const mapped = /^::ffff:(.+)$/i.exec(localAddress)?.[1];
  return mapped !== undefined && net.isIPv4(mapped) ? 4 : 6;
}
