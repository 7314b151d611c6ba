/** A plain TCP connection from the daemon (its uid is never captured), half-open allowed, as core/hbone's splice needs. */
import { connect as tcpConnect, type Socket } from 'node:net';

export function dialTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
