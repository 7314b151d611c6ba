/**
 * A peer that dies with work in flight, as a process of its own (run with
 * node; used by test/integration/hbone-dead-peer.test.ts and
 * bench/dead-peer.ts): `conns` HBONE connections with `streams` CONNECT
 * streams each, every stream writing up to `mib` MiB and never reading what
 * comes back. Once every stream has written all or stalled on backpressure
 * it prints one JSON line and exits without closing anything, so the kernel
 * resets its sockets (unread data in the receive buffer means RST, not FIN):
 * what a crashed or killed peer looks like to the server.
 *
 *   node dead-peer-client.js --port P --authority 127.0.0.1:U --dir PEMDIR
 *        [--conns 10] [--streams 20] [--mib 80] [--stall-ms 1000]
 *
 * PEMDIR holds cert.pem, key.pem (a mesh workload identity) and ca.pem.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HboneClient, type HboneStream } from '../../core/hbone/index.js';
import { workload } from './test-pki.js';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? fallback : process.argv[i + 1];
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

/** Writes up to `total` bytes with backpressure; resolves with what was written once done or stalled for `stallMs`. */
function writeUntilStalled(stream: HboneStream, total: number, stallMs: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve) => {
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      stream.off('drain', pump);
      resolve(written);
    };
    const pump = (): void => {
      clearTimeout(timer);
      while (written < total && !stream.destroyed) {
        written += chunk.length;
        if (!stream.write(chunk)) {
          timer = setTimeout(stop, stallMs);
          return;
        }
      }
      stop();
    };
    stream.on('drain', pump);
    stream.on('error', stop);
    pump();
  });
}

async function main(): Promise<void> {
  const dir = arg('dir');
  const identity = { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')), ca: await readFile(join(dir, 'ca.pem')) };
  const peer = { host: '127.0.0.1', port: Number(arg('port')) };
  const authority = arg('authority');
  const conns = Number(arg('conns', '10'));
  const streams = Number(arg('streams', '20'));
  const total = Number(arg('mib', '80')) * 1024 * 1024;
  const stallMs = Number(arg('stall-ms', '1000'));
  const source = workload('default', 'dead-peer');
  const writes: Array<Promise<number>> = [];
  // One client per connection: a client pools all of one source's streams onto one session.
  for (let c = 0; c < conns; c++) {
    const client = new HboneClient({ getSecureContext: () => identity, maxStreamsPerSession: streams });
    const opened = await Promise.all(Array.from({ length: streams }, () => client.connect({ peer, authority, source })));
    for (const stream of opened) writes.push(writeUntilStalled(stream, total, stallMs));
  }
  const written = await Promise.all(writes);
  process.stdout.write(`${JSON.stringify({ streams: written.length, bytesWritten: written.reduce((a, b) => a + b, 0) })}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
