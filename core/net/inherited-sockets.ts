/**
 * Sockets systemd passed to this process (socket activation, sd_listen_fds(3)):
 * `ambit install` writes one socket unit per ambitd listener
 * (core/config/daemon-listeners.ts), so that systemd, not ambitd, owns ports
 * 15001, 15008 and 15053. While ambitd is stopped, restarting or crashed the
 * ports stay bound: no local user can bind them and receive what the capture
 * rules still redirect there, and connections wait in the queue until ambitd
 * is back instead of failing.
 *
 * The protocol: LISTEN_PID is our pid, LISTEN_FDS how many descriptors start
 * at fd 3, LISTEN_FDNAMES their colon-separated names (FileDescriptorName=).
 * What each descriptor is (TCP or UDP, address, port) is read from /proc, so a
 * unit that disagrees with ambitd.yaml is refused before ambitd does anything
 * (verify), and a listener gets its descriptors by name (targets), binding the
 * port itself when none were passed (tests, a run without systemd).
 *
 * The variables are removed from the environment once read, as
 * sd_listen_fds(1) does, so that waypoints ambitd starts do not take them as
 * theirs. The descriptors themselves do not reach children: libuv closes
 * everything above stdio in a spawned process.
 */
import { readlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DaemonListener } from '../config/daemon-listeners.js';
import { AmbitError } from '../errors.js';
import type { ListenTarget } from './listen-target.js';
import { allListeners, type ListeningSocket, type Protocol } from './proc-sockets.js';

/** sd_listen_fds's SD_LISTEN_FDS_START. */
export const LISTEN_FDS_START = 3;
/** More than any unit of ours passes: a larger count is a garbled variable, not sockets. */
const MAX_FDS = 256;
/** sd_listen_fds_with_names's name for a descriptor when LISTEN_FDNAMES is not set. */
const UNNAMED = 'unknown';

export interface PassedFd {
  fd: number;
  name: string;
}

/** What the environment says was passed, or why nothing was (not activated, or activated for another process). */
export type ListenFds = { passed: PassedFd[] } | { none: string };

/** sd_listen_fds_with_names(3) without the side effects; throws ELISTEN_FDS on variables that are set but malformed. */
export function parseListenFds(env: Readonly<Record<string, string | undefined>>, pid: number): ListenFds {
  const { LISTEN_PID: pidText, LISTEN_FDS: countText, LISTEN_FDNAMES: namesText } = env;
  if (pidText === undefined || countText === undefined) return { none: 'LISTEN_PID and LISTEN_FDS are not set: no sockets passed' };
  if (!/^[1-9]\d*$/.test(pidText)) throw bad(`LISTEN_PID="${pidText}" is not a process id`);
  // The variables outlive an exec: a process started by the one they were meant for must not take its sockets.
  if (Number(pidText) !== pid) return { none: `LISTEN_PID=${pidText} is another process (this is ${pid}): its sockets are not ours` };
  if (!/^\d+$/.test(countText)) throw bad(`LISTEN_FDS="${countText}" is not a count`);
  const count = Number(countText);
  if (count > MAX_FDS) throw bad(`LISTEN_FDS=${count} is more descriptors than any ambit unit passes (at most ${MAX_FDS})`);
  const names = namesText === undefined ? Array.from({ length: count }, () => UNNAMED) : namesText === '' && count === 0 ? [] : namesText.split(':');
  if (names.length !== count) throw bad(`LISTEN_FDNAMES names ${names.length} descriptors ("${namesText}") but LISTEN_FDS says ${count}`);
  const empty = names.findIndex((n) => n === '');
  if (empty >= 0) throw bad(`LISTEN_FDNAMES="${namesText}" leaves descriptor ${LISTEN_FDS_START + empty} without a name`);
  return { passed: names.map((name, i) => ({ fd: LISTEN_FDS_START + i, name })) };
}

function bad(what: string): AmbitError {
  return new AmbitError(
    'ELISTEN_FDS',
    `${what}: the socket-activation variables are garbled; start ambitd from its units (systemctl start ambitd) or unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES`,
  );
}

/** A passed descriptor and what it is; `socket` is undefined when it is no listening TCP or bound UDP socket in this network namespace. */
export interface InheritedSocket extends PassedFd {
  socket: ListeningSocket | undefined;
}

/** The socket behind each descriptor, from /proc/self/fd links and the socket tables. */
export async function describeFds(fds: PassedFd[], procSelf = '/proc/self'): Promise<InheritedSocket[]> {
  const sockets = await allListeners(`${procSelf}/net`);
  return Promise.all(
    fds.map(async (p) => {
      const link = await readlink(`${procSelf}/fd/${p.fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      return { ...p, socket: inode === undefined ? undefined : sockets.find((s) => s.inode === Number(inode)) };
    }),
  );
}

const ENV_NAMES = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;
const show = (s: ListeningSocket): string => `${s.protocol} ${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`;

export class InheritedSockets {
  readonly #sockets: readonly InheritedSocket[];
  readonly #log: Logger;

  constructor(sockets: readonly InheritedSocket[], log: Logger) {
    this.#sockets = sockets;
    this.#log = log;
  }

  /** What systemd passed this process, read once; the variables are removed from `env`. */
  static async fromEnvironment(log: Logger, env: NodeJS.ProcessEnv = process.env, pid = process.pid): Promise<InheritedSockets> {
    const parsed = parseListenFds(env, pid);
    for (const name of ENV_NAMES) delete env[name];
    if ('none' in parsed) {
      log.debug(parsed.none);
      return new InheritedSockets([], log);
    }
    return new InheritedSockets(await describeFds(parsed.passed), log);
  }

  get passed(): readonly InheritedSocket[] {
    return this.#sockets;
  }

  /**
   * Refuses (ELISTEN_FD_MISMATCH) a descriptor named for one of `listeners`
   * that is not a socket of the right protocol on its port; a name no
   * listener has is logged and left alone (systemd keeps holding it).
   */
  verify(listeners: readonly DaemonListener[], configName: string): void {
    for (const passed of this.#sockets) {
      const listener = listeners.find((l) => l.name === passed.name);
      if (!listener) {
        this.#log.warn(
          { fd: passed.fd, name: passed.name, socket: passed.socket && show(passed.socket) },
          `systemd passed a socket named "${passed.name}", which no ambitd listener takes (${listeners.map((l) => l.name).join(', ')}); it stays open, unused`,
        );
        continue;
      }
      const protocols: Protocol[] = [...(listener.stream.length > 0 ? ['tcp' as const] : []), ...(listener.datagram.length > 0 ? ['udp' as const] : [])];
      const s = passed.socket;
      const room = s ? (s.protocol === 'tcp' ? listener.stream : listener.datagram).length : 0;
      const alike = s ? this.#sockets.filter((o) => o.name === passed.name && o.socket?.protocol === s.protocol).length : 0;
      const problem = !s
        ? 'is not a listening TCP or bound UDP socket in this network namespace'
        : !protocols.includes(s.protocol)
          ? `is ${show(s)}, but ${passed.name} takes ${protocols.join(' and ')} only`
          : s.port !== listener.port
            ? `is ${show(s)}, but ${configName} has ports.${listener.setting}: ${listener.port}`
            : alike > room
              ? `is one of ${alike} ${s.protocol} sockets named ${passed.name}, which takes at most ${room}`
              : undefined;
      if (problem) throw fdMismatch({ fd: passed.fd, name: passed.name, port: listener.port }, problem, configName);
    }
  }

  /**
   * Where `listener` listens for `protocol`: the descriptors systemd passed
   * under its name, or, when none were, the addresses it binds itself. Says
   * which in the log, a warning when systemd passed others but not this one
   * (its port is then free while ambitd is down).
   */
  targets(listener: DaemonListener, protocol: Protocol): ListenTarget[] {
    const hosts = protocol === 'tcp' ? listener.stream : listener.datagram;
    const mine = this.#sockets.filter((p) => p.name === listener.name && p.socket?.protocol === protocol);
    const fields = { listener: listener.name, protocol, port: listener.port };
    if (mine.length === 0) {
      const message = `${listener.name} (${protocol}): binding ${hosts.map((h) => (h.includes(':') ? `[${h}]` : h)).join(', ')} port ${listener.port} itself`;
      if (this.#sockets.length > 0)
        this.#log.warn(
          fields,
          `${message}: systemd passed sockets, but none named ${listener.name} for ${protocol}, so nothing holds that port while ambitd is down`,
        );
      else this.#log.info(fields, `${message} (not started by systemd socket activation)`);
      return hosts.map((host) => ({ kind: 'bind', host, port: listener.port }));
    }
    this.#log.info(
      { ...fields, fds: mine.map((p) => p.fd) },
      `${listener.name} (${protocol}): adopting ${mine.map((p) => `fd ${p.fd} ${show(p.socket!)}`).join(', ')} from systemd`,
    );
    return mine.map((p) => ({ kind: 'inherited', fd: p.fd, name: p.name, port: listener.port, address: p.socket!.address }));
  }
}

/** A passed descriptor that is not what the settings want, and what to do: the units are written from ambitd.yaml. */
export function fdMismatch(p: { fd: number; name: string; port: number }, problem: string, configName = 'ambitd.yaml'): AmbitError {
  return new AmbitError(
    'ELISTEN_FD_MISMATCH',
    `the socket systemd passed as fd ${p.fd} (${p.name}) ${problem}: re-run ambit install (it writes ambitd-${p.name}.socket from ${configName}), then systemctl daemon-reload && systemctl restart ambitd-${p.name}.socket ambitd`,
    { fd: p.fd, name: p.name, port: p.port },
  );
}
