/** One DNS question over UDP, with a deadline: enough to see whether a resolver answers and what. */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import dnsPacket, { type DecodedPacket } from 'dns-packet';

export interface DnsReply {
  /** 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, … */
  rcode: number;
  authoritative: boolean;
  /** A/AAAA answers. */
  addresses: string[];
  rttMs: number;
}

export const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

export function queryUdp(server: string, port: number, name: string, timeoutMs: number): Promise<DnsReply> {
  const id = Math.floor(Math.random() * 65536);
  const message = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });
  const socket = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
  const started = performance.now();
  return new Promise<DnsReply>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no answer from ${server}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | undefined, reply?: DnsReply): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    socket.on('error', (err) => finish(err));
    socket.on('message', (data) => {
      let decoded: DecodedPacket;
      try {
        decoded = dnsPacket.decode(data);
      } catch {
        return; // not a DNS message: keep waiting for ours
      }
      if (decoded.id !== id) return;
      const addresses = (decoded.answers ?? []).flatMap((a) => (a.type === 'A' || a.type === 'AAAA' ? [a.data] : []));
      finish(undefined, { rcode: (decoded.flags ?? 0) & 0x0f, authoritative: decoded.flag_aa, addresses, rttMs: performance.now() - started });
    });
    socket.send(message, port, server);
  });
}
