/**
 * The sockets ambitd listens on that carry mesh traffic, each under one name:
 * the name of its systemd socket unit (ambitd-<name>.socket, written by
 * `ambit install`), of the descriptors systemd passes for it
 * (FileDescriptorName=, LISTEN_FDNAMES) and of the listener in ambitd that
 * adopts them. One table, so that the units install writes, what ambitd
 * accepts from systemd and what it binds itself when started without systemd
 * can never disagree. Admin and metrics are not here: nothing is redirected to
 * them, so nobody gains anything by taking their ports while ambitd is down.
 *
 * A new listener is one more row, read by its listener with
 * `InheritedSockets.targets(listener)` (core/net/inherited-sockets.ts).
 */
import type { DaemonConfig } from './daemon-settings.js';

export interface DaemonListener {
  /** Unit ambitd-<name>.socket, FileDescriptorName=<name>. */
  name: string;
  /** The ambitd.yaml setting the port comes from (ports.<setting>). */
  setting: keyof DaemonConfig['ports'];
  port: number;
  /** Addresses of its TCP listeners; "::" is IPv6 only (the "0.0.0.0" one takes IPv4). */
  stream: readonly string[];
  /** Addresses of its UDP sockets. */
  datagram: readonly string[];
  /** For the unit's Description= and log lines. */
  description: string;
}

export function daemonListeners(ports: DaemonConfig['ports']): DaemonListener[] {
  return [
    {
      name: 'outbound',
      setting: 'outbound',
      port: ports.outbound,
      // ip6tables REDIRECT delivers captured IPv6 to ::1, which only a "::" listener accepts.
      stream: ['0.0.0.0', '::'],
      datagram: [],
      description: 'captured outbound TCP of enrolled services',
    },
    { name: 'inbound', setting: 'inbound', port: ports.inbound, stream: ['0.0.0.0'], datagram: [], description: 'HBONE (mTLS) from peer nodes' },
    {
      name: 'inbound-plaintext',
      setting: 'inboundPlaintext',
      port: ports.inboundPlaintext,
      // REDIRECT from nat PREROUTING delivers to the interface's address, from nat OUTPUT to 127.0.0.1 or ::1.
      stream: ['0.0.0.0', '::'],
      datagram: [],
      description: 'plaintext TCP to local workloads, under AuthorizationPolicy',
    },
    { name: 'dns', setting: 'dns', port: ports.dns, stream: ['127.0.0.1'], datagram: ['127.0.0.1'], description: 'DNS of enrolled services (UDP and TCP)' },
  ];
}

/** The listener named `name`; a name outside the table is a bug in the caller. */
export function daemonListener(ports: DaemonConfig['ports'], name: string): DaemonListener {
  const found = daemonListeners(ports).find((l) => l.name === name);
  if (!found) throw new Error(`no ambitd listener is named ${name}`);
  return found;
}
