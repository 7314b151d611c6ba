/**
 * Where a listener gets its socket: bound by this process, or a descriptor
 * it inherited (systemd socket activation, inherited-sockets.ts). One place
 * turns either into a listening net.Server or a bound dgram socket, and checks
 * that an inherited socket is on the port the settings say: a unit written for
 * another ambitd.yaml must stop ambitd, not leave it serving the wrong port
 * while the configured one (where the capture rules redirect) is free.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { fdMismatch } from './inherited-sockets.js';

export type ListenTarget =
  /** Bind it ourselves; "::" means IPv6 only (IPv4 has its own "0.0.0.0" listener). */
  | { kind: 'bind'; host: string; port: number }
  /** Adopt descriptor `fd`, which must be on `port`; `address` is where it is bound, as /proc showed it. */
  | { kind: 'inherited'; fd: number; name: string; port: number; address: string };

export function describeListenTarget(target: ListenTarget): string {
  return target.kind === 'bind' ? hostPort(target.host, target.port) : `fd ${target.fd} (${target.name}, ${hostPort(target.address, target.port)})`;
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Listens on `target`; rejects with the bind error, or ELISTEN_FD_MISMATCH when an inherited socket is on another port. */
export async function listenTcp(server: Server, target: ListenTarget): Promise<AddressInfo> {
  const listening = once(server, 'listening');
  if (target.kind === 'bind') server.listen({ port: target.port, host: target.host, ipv6Only: target.host === '::' });
  else server.listen({ fd: target.fd });
  await listening;
  const address = server.address() as AddressInfo;
  if (target.kind === 'inherited' && address.port !== target.port) {
    await new Promise((resolve) => server.close(resolve));
    throw fdMismatch(target, `is bound to tcp ${hostPort(address.address, address.port)}, but the settings want port ${target.port}`);
  }
  return address;
}

/** Binds (or adopts) a UDP socket made for the target's address family. */
export async function bindUdp(socket: UdpSocket, target: ListenTarget): Promise<AddressInfo> {
  const bound = once(socket, 'listening');
  if (target.kind === 'bind') socket.bind(target.port, target.host);
  else socket.bind({ fd: target.fd });
  await bound;
  const address = socket.address();
  if (target.kind === 'inherited' && address.port !== target.port) {
    socket.close();
    throw fdMismatch(target, `is bound to udp ${hostPort(address.address, address.port)}, but the settings want port ${target.port}`);
  }
  return address;
}
