/**
 * The ambitd-<name>.socket units `ambit install` writes, one per listener in
 * core/config/daemon-listeners.ts (FileDescriptorName= names every descriptor
 * of a unit alike, so one name needs one unit). With them systemd binds
 * ambitd's traffic ports before ambitd starts and keeps them bound while it is
 * stopped, restarting or crashed: the capture rules, which stay (fail
 * closed), then point at a port no local user can take, and connections wait
 * in its queue until ambitd is back. The ports come from ambitd.yaml, so a
 * change of ports there needs a re-run of install (ambitd refuses sockets on
 * other ports, ELISTEN_FD_MISMATCH).
 */
import type { DaemonConfig } from '../../core/config/daemon-settings.js';
import { daemonListeners, type DaemonListener } from '../../core/config/daemon-listeners.js';
import { TARGETS, UNIT_NAME } from './layout.js';

/** The first line of every socket unit install writes: uninstall removes only files that carry it. */
export const SOCKET_UNIT_MARKER = '# Written by `ambit install`: systemd holds this port for ambitd';

export interface SocketUnit {
  /** e.g. ambitd-outbound.socket */
  name: string;
  /** The host path it is installed at. */
  path: string;
  content: string;
}

export const socketUnitName = (listener: Pick<DaemonListener, 'name'>): string => `${UNIT_NAME}-${listener.name}.socket`;

/** The unit names, in table order, for Sockets=, Requires= and systemctl. */
export function socketUnitNames(ports: DaemonConfig['ports']): string[] {
  return daemonListeners(ports).map(socketUnitName);
}

/** `ipv6`: the host has IPv6, so "::" listeners are bound (systemd fails a unit whose address it cannot bind). */
export function socketUnits(ports: DaemonConfig['ports'], options: { ipv6: boolean; packageRoot: string }): SocketUnit[] {
  return daemonListeners(ports).map((l) => {
    const name = socketUnitName(l);
    const address = (host: string): string => (host.includes(':') ? `[${host}]:${l.port}` : `${host}:${l.port}`);
    const keep = (hosts: readonly string[]) => hosts.filter((h) => options.ipv6 || !h.includes(':'));
    const lines = [
      ...keep(l.stream).map((h) => `ListenStream=${address(h)}`),
      ...keep(l.datagram).map((h) => `ListenDatagram=${address(h)}`),
      // Like ambitd's own "::" listener: IPv6 only, IPv4 has its 0.0.0.0 one (v4-mapped peers would dodge ipBlocks).
      ...(keep(l.stream).some((h) => h.includes(':')) ? ['BindIPv6Only=ipv6-only'] : []),
    ];
    const content = `${SOCKET_UNIT_MARKER}
# (${l.description}), so that while ambitd is stopped, restarting or crashed nobody
# else can bind it and take what the capture rules send there. From ports.${l.setting}
# in ambitd.yaml: re-run \`ambit install\` after changing it.

[Unit]
Description=ambit node daemon: ${l.description}, port ${l.port}
Documentation=file://${options.packageRoot}/README.md

[Socket]
${lines.join('\n')}
# ambitd takes the descriptors by this name (LISTEN_FDNAMES).
FileDescriptorName=${l.name}
Service=${UNIT_NAME}.service
# No trigger limit: a unit that hits one fails and frees its port, which a flood of
# connections while ambitd is down must not be able to cause.
TriggerLimitIntervalSec=0

[Install]
WantedBy=sockets.target
`;
    return { name, path: `${TARGETS.unitDir}/${name}`, content };
  });
}
