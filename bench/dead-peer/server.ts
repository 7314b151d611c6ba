/**
 * The HBONE server of bench/dead-peer.ts, in a process of its own so its RSS
 * is its own: ambitd's real inbound (daemon/inbound.ts: authorization,
 * metrics and the access log around an HboneServer, the ambitd.yaml
 * defaults for handshakes and keepalive, the memory release ambitd gives
 * it, daemon/memory-release.ts), with one enrolled local workload
 * on 127.0.0.1:PORT, the bench's echo upstream. Only the store, capture and
 * outbound are left out; they do nothing while a peer tunnels in.
 *
 *   node server.js --dir PEMDIR --upstream PORT
 *
 * PEMDIR holds server-cert.pem, server-key.pem and ca.pem. Prints
 * {"port":N} once listening; then each "stats" line on stdin is answered with
 * one JSON line: {"memory": the breakdown (memory.ts), "now", "releases"
 * (each memory release so far: when, RSS before and after, streams then
 * open), ...the server's stats()}. Log lines (JSON with "msg") go to stdout too, in between.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';
import { logger } from '../../core/logging.js';
import { MeshState } from '../../core/mesh/index.js';
import { createInbound } from '../../daemon/inbound.js';
import { MemoryRelease, processMemoryIo } from '../../daemon/memory-release.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { memorySample } from './memory.js';

const NODE = 'bench-node';

async function main(): Promise<void> {
  const argv = process.argv;
  const dir = argv[argv.indexOf('--dir') + 1]!;
  const upstreamPort = Number(argv[argv.indexOf('--upstream') + 1]);
  const identity = {
    cert: await readFile(join(dir, 'server-cert.pem')),
    key: await readFile(join(dir, 'server-key.pem')),
    ca: await readFile(join(dir, 'ca.pem')),
  };
  const config = parseDaemonConfig('', 'bench.yaml', { nodeName: NODE, nodeAddress: '127.0.0.1' });
  const upstream = { service: 'echo', namespace: 'default', serviceAccount: 'echo', labels: {}, node: NODE, address: '127.0.0.1', port: upstreamPort };
  const snapshot = {
    revision: 1,
    resources: new Map(),
    services: new Map([['default/echo', { name: 'echo', namespace: 'default', ports: [upstreamPort], vip: '240.240.0.1' }]]),
    endpoints: new Map([[`default/echo/${NODE}/127.0.0.1:${upstreamPort}`, upstream]]),
  };
  const state = new MeshState(snapshot, [{ name: NODE, address: '127.0.0.1', hbonePort: 15008 }], {
    nodeName: NODE,
    trustDomain: 'cluster.local',
    domain: 'cluster.local',
  });
  // ambitd's release, watched: when each ran and what it gave back, for the bench to print.
  const io = processMemoryIo(logger('memory'));
  const releases: Array<{ at: number; rssBefore: number; rssAfter: number; streamsOpen: number }> = [];
  const memory = new MemoryRelease({
    ...io,
    release: () => {
      const rssBefore = process.memoryUsage.rss();
      io.release();
      releases.push({ at: Date.now(), rssBefore, rssAfter: process.memoryUsage.rss(), streamsOpen: server.stats().streamsOpen });
    },
  });
  const server = createInbound({
    state: () => state,
    identity,
    limits: config.hbone,
    metrics: new DaemonMetrics(),
    memory,
    // The log shares stdout with the replies; the bench skips its lines (warnings of lost sessions are expected here).
    log: logger('inbound').child({}, { level: 'warn' }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'stats') continue;
    const { peers: _peers, ...stats } = server.stats();
    process.stdout.write(`${JSON.stringify({ memory: memorySample(), now: Date.now(), releases, ...stats })}\n`);
  }
  await server.close(0);
}

void main();
