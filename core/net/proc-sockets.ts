/**
 * Who listens on a port, read from /proc the way `ss -ltnup` does: the
 * socket tables of this network namespace (/proc/net/{tcp,udp}{,6}) give
 * each listening socket's inode, and the /proc/<pid>/fd links that point at
 * "socket:[inode]" give the processes holding it. In core/ because ambitd
 * reads it too: what the sockets systemd passed it are (inherited-sockets.ts).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export type Protocol = 'tcp' | 'udp';

export interface ListeningSocket {
  protocol: Protocol;
  address: string;
  port: number;
  inode: number;
}

export interface SocketHolder {
  pid: number;
  /** The command line, arguments joined by spaces. */
  command: string;
}

/** TCP_LISTEN in the tcp tables; TCP_CLOSE is how a bound, unconnected UDP socket shows in the udp ones. */
const LISTEN_STATE: Record<Protocol, string> = { tcp: '0A', udp: '07' };

/** Listening (tcp) or bound (udp) sockets of one /proc/net table. */
export function parseSocketTable(text: string, protocol: Protocol): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN_STATE[protocol]) continue;
    const [hexAddress = '', hexPort = ''] = f[1]!.split(':');
    out.push({ protocol, address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), inode: Number(f[9]) });
  }
  return out;
}

/** The kernel prints each 32-bit word of the address in host byte order (little endian on the machines ambit runs on). */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return `::ffff:${bytes.slice(12).join('.')}`;
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

async function readTable(protocol: Protocol, procNet: string): Promise<ListeningSocket[]> {
  const tables = await Promise.all([protocol, `${protocol}6`].map((f) => readFile(`${procNet}/${f}`, 'utf8').catch(() => '')));
  return tables.flatMap((t) => parseSocketTable(t, protocol));
}

/** Every listening TCP socket and bound UDP socket in this network namespace. */
export async function allListeners(procNet = '/proc/net'): Promise<ListeningSocket[]> {
  return (await Promise.all((['tcp', 'udp'] as const).map((p) => readTable(p, procNet)))).flat();
}

/** Every socket listening on one of `ports`, per protocol. */
export async function listenersOn(wanted: readonly { protocol: Protocol; port: number }[], procNet = '/proc/net'): Promise<ListeningSocket[]> {
  const protocols = [...new Set(wanted.map((w) => w.protocol))];
  const all = (await Promise.all(protocols.map((p) => readTable(p, procNet)))).flat();
  return all.filter((s) => wanted.some((w) => w.protocol === s.protocol && w.port === s.port));
}

/**
 * The processes holding these socket inodes. Reads every process's fd table
 * (only root sees other users'), all of them: a forked child shares its
 * parent's sockets. An inode no visible process holds maps to nothing.
 */
export async function holdersOf(inodes: readonly number[], proc = '/proc'): Promise<Map<number, SocketHolder[]>> {
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`));
  const found = new Map<number, SocketHolder[]>();
  if (wanted.size === 0) return found;
  const pids = (await readdir(proc)).filter((e) => /^\d+$/.test(e));
  for (const pid of pids) {
    const fds = await readdir(`${proc}/${pid}/fd`).catch(() => [] as string[]);
    const links = await Promise.all(fds.map((fd) => readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '')));
    const hits = [...new Set(links.filter((l) => wanted.has(l)))];
    if (hits.length === 0) continue;
    const command = (await readFile(`${proc}/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
    for (const link of hits) {
      const inode = Number(link.slice(8, -1));
      found.set(inode, [...(found.get(inode) ?? []), { pid: Number(pid), command }]);
    }
  }
  return found;
}
