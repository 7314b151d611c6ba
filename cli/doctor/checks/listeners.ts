/**
 * ambitd's ports: held by ambitd while it runs and, where `ambit install`
 * wrote its socket units, by systemd too, so that they stay taken while
 * ambitd is down. A port held by anything else is why ambitd fails to start
 * (EADDRINUSE), or, worse for 15001, 15006 and 15053, where captured traffic ends up
 * instead; a traffic port nobody holds while ambitd is down is where anyone
 * could start receiving it.
 */
import type { DaemonConfig } from '../../../core/config/daemon-settings.js';
import { daemonListeners } from '../../../core/config/daemon-listeners.js';
import { fail, ok, warn, type Check, type CheckResult } from '../check.js';
import { holdersOf, listenersOn, type ListeningSocket, type Protocol, type SocketHolder } from '../../../core/net/proc-sockets.js';

export interface AmbitPort {
  /** The settings field, for the fix line: ports.<setting>. */
  setting: keyof DaemonConfig['ports'];
  protocol: Protocol;
  port: number;
  /** A traffic port: install writes a socket unit that holds it while ambitd is down (core/config/daemon-listeners.ts). */
  activated: boolean;
}

export function ambitPorts(ports: DaemonConfig['ports']): AmbitPort[] {
  // UDP first for DNS: the order the report has always listed them in.
  const traffic = daemonListeners(ports).flatMap((l): AmbitPort[] => [
    ...(l.datagram.length > 0 ? [{ setting: l.setting, protocol: 'udp' as const, port: l.port, activated: true }] : []),
    ...(l.stream.length > 0 ? [{ setting: l.setting, protocol: 'tcp' as const, port: l.port, activated: true }] : []),
  ]);
  return [
    ...traffic,
    { setting: 'admin', protocol: 'tcp', port: ports.admin, activated: false },
    { setting: 'metrics', protocol: 'tcp', port: ports.metrics, activated: false },
  ];
}

/** systemd itself (pid 1), holding a port for a socket unit. */
export function isSystemd(holder: SocketHolder): boolean {
  return holder.pid === 1 && /(^|\/)(systemd|init)(\s|$)/.test(holder.command);
}

export function isAmbitd(holder: SocketHolder): boolean {
  return /(^|[\s/])ambitd(\.js)?(\s|$)|dist\/daemon\/main\.js/.test(holder.command);
}

/** "node (pid 4242: node -e require('net')…)": what an operator needs to find and stop it. */
export function describeHolder(holder: SocketHolder): string {
  const argv0 = holder.command.split(' ')[0] ?? '';
  const name = argv0.slice(argv0.lastIndexOf('/') + 1) || 'unknown';
  const command = holder.command.length > 60 ? `${holder.command.slice(0, 60)}…` : holder.command;
  return `${name} (pid ${holder.pid}: ${command || 'command line not readable'})`;
}

const label = (p: { protocol: Protocol; port: number }): string => `${p.port}/${p.protocol}`;
const list = (ports: readonly { protocol: Protocol; port: number }[]): string => ports.map(label).join(', ');

/** The verdict from who holds each port (pure, for tests). */
export function judgeListeners(
  ports: readonly AmbitPort[],
  sockets: readonly ListeningSocket[],
  holders: ReadonlyMap<number, SocketHolder[]>,
  configName: string,
): CheckResult {
  const seen = ports.map((p) => {
    const on = sockets.filter((s) => s.protocol === p.protocol && s.port === p.port);
    return { ...p, sockets: on, holders: on.flatMap((s) => holders.get(s.inode) ?? []) };
  });
  const foreign = seen.flatMap((p) => p.holders.filter((h) => !isAmbitd(h) && !isSystemd(h)).map((h) => ({ p, h })));
  if (foreign.length > 0) {
    const first = foreign[0]!;
    return fail(
      foreign.map(({ p, h }) => `${label(p)} is held by ${describeHolder(h)}`).join('; '),
      `stop that process (kill ${[...new Set(foreign.map(({ h }) => h.pid))].join(' ')}) or move ambit off the port (ports.${first.p.setting} in ${configName}, then restart ambitd)`,
    );
  }
  const hidden = seen.filter((p) => p.sockets.length > 0 && p.holders.length === 0);
  if (hidden.length > 0) {
    return fail(
      `${list(hidden)} ${hidden.length === 1 ? 'is' : 'are'} held by a process doctor cannot see`,
      `find it with: ss -lntup 'sport = :${hidden[0]!.port}' (as root, in this network namespace)`,
    );
  }
  const daemons = [...new Set(seen.flatMap((p) => p.holders.filter(isAmbitd).map((h) => h.pid)))];
  const bySystemd = seen.filter((p) => p.holders.some(isSystemd));
  const free = seen.filter((p) => !p.holders.some(isAmbitd));
  const systemdNote = bySystemd.length > 0 ? `; systemd holds ${list(bySystemd)} for it (socket activation), so they stay taken while ambitd is down` : '';
  if (daemons.length === 0) {
    const open = seen.filter((p) => p.activated && !p.holders.some(isSystemd));
    if (open.length === 0)
      return ok(
        `ambitd is not running; systemd holds ${list(bySystemd)} for it (socket activation): nobody else can bind them, and connections wait there until ambitd is back`,
      );
    const unheld = seen.filter((p) => p.holders.length === 0);
    return warn(
      `ambitd is not running and its ports are free: ${list(unheld)}; no socket unit holds ${list(open)}, so any local user can bind ${open.length === 1 ? 'it' : 'them'} and receive what the capture rules redirect there`,
      'start ambitd, and run it through the socket units `ambit install` writes (ambitd-*.socket) so that systemd holds its ports while it is down',
    );
  }
  if (free.length > 0) {
    return fail(
      `ambitd (pid ${daemons.join(', ')}) holds ${list(seen.filter((p) => p.holders.some(isAmbitd)))} but not ${list(free)}`,
      'ambitd is half started: read its log (journalctl -u ambitd) and restart it',
    );
  }
  return ok(`ambitd (pid ${daemons.join(', ')}) holds ${list(seen)}${systemdNote}`);
}

export const listenersCheck: Check = {
  name: 'listeners',
  needs: ['root', 'config'],
  run: async (ctx) => {
    const ports = ambitPorts(ctx.config.ports);
    const sockets = await listenersOn(ports);
    const holders = await holdersOf(sockets.map((s) => s.inode));
    return judgeListeners(ports, sockets, holders, ctx.settings.configPath ?? 'the ambitd settings file');
  },
};
