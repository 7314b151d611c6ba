/**
 * A block of consecutive free TCP ports, for an in-process ambitd whose ports
 * (outbound, inbound, dns, admin, metrics) are base..base+4. Chosen below the
 * kernel's ephemeral range (32768+), where no client connection's own port can
 * take one between the check and the daemon's listen, and checked by binding each.
 */
import { createServer } from 'node:net';

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (12000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error(`no block of ${count} free ports found in 20000-32000`);
}
