/**
 * The HBONE server of bench/dead-peer.ts, in a process of its own so its RSS
 * is its own: an HboneServer configured as ambitd's inbound is (default
 * tuning, one upstream it may reach), listening on 127.0.0.1:0.
 *
 *   node server.js --dir PEMDIR --upstream PORT
 *
 * PEMDIR holds server-cert.pem, server-key.pem and ca.pem. Prints
 * {"port":N} once listening; then each "stats" line on stdin is answered with
 * one JSON line: rss (bytes) and the server's stats().
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HboneServer } from '../../core/hbone/index.js';
import { logger } from '../../core/logging.js';

async function main(): Promise<void> {
  const argv = process.argv;
  const dir = argv[argv.indexOf('--dir') + 1]!;
  const upstreamPort = Number(argv[argv.indexOf('--upstream') + 1]);
  const identity = {
    cert: await readFile(join(dir, 'server-cert.pem')),
    key: await readFile(join(dir, 'server-key.pem')),
    ca: await readFile(join(dir, 'ca.pem')),
  };
  const server = new HboneServer({
    identity,
    log: logger('hbone').child({}, { level: 'warn' }),
    resolveUpstream: ({ destination }) =>
      destination.port === upstreamPort ? { host: '127.0.0.1', port: upstreamPort } : { refuse: 'not the bench upstream' },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'stats') continue;
    const { peers: _peers, ...stats } = server.stats();
    process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage.rss(), ...stats })}\n`);
  }
  await server.close(0);
}

void main();
