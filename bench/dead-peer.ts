/**
 * What a dead peer costs the HBONE server in memory (issue 13): 10
 * connections x 20 CONNECT streams that each write up to 80 MiB through an
 * echo upstream and never read, then exit with everything in flight
 * (test/helpers/dead-peer-client.ts). The server runs in its own process
 * (bench/dead-peer/server.ts, configured as ambitd's inbound), so its RSS is
 * its own. Prints idle RSS, peak RSS, RSS 30 s after the clients exited, the
 * ratio after/idle, and the streams and upstream sockets left.
 *
 *   npm run bench:dead-peer [-- --conns 10 --streams 20 --mib 80 --after 30]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeTestCa, workload } from '../test/helpers/test-pki.js';

const SERVER = fileURLToPath(new URL('./dead-peer/server.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('../test/helpers/dead-peer-client.js', import.meta.url));

interface ServerStats {
  rss: number;
  sessionsActive: number;
  streamsOpen: number;
  upstreamSockets: number;
}

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const conns = arg('conns', '10');
  const streams = arg('streams', '20');
  const mib = arg('mib', '80');
  const afterS = Number(arg('after', '30'));
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-dead-peer-'));
  const upstream = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const pki = await makeTestCa();
    const [node, client] = await Promise.all([pki.issue(workload('ambit-system', 'bench-node')), pki.issue(workload('default', 'dead-peer'))]);
    const files: Record<string, string | Buffer> = {
      'server-cert.pem': node.cert,
      'server-key.pem': node.key,
      'cert.pem': client.cert,
      'key.pem': client.key,
      'ca.pem': pki.rootPem,
    };
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text, { mode: 0o600 })));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    server = spawn(process.execPath, [SERVER, '--dir', dir, '--upstream', String(upstreamPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const line = await lines.next();
      if (line.done) throw new Error('the bench server exited');
      return line.value;
    };
    const { port } = JSON.parse(await next()) as { port: number };
    const stats = async (): Promise<ServerStats> => {
      server!.stdin!.write('stats\n');
      return JSON.parse(await next()) as ServerStats;
    };
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await stats();
    let peak = idle.rss;
    const sampler = setInterval(() => void stats().then((s) => (peak = Math.max(peak, s.rss))), 250);
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [CLIENT, '--port', String(port), '--authority', `127.0.0.1:${upstreamPort}`, '--dir', dir, '--conns', conns, '--streams', streams, '--mib', mib],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let report = '';
    child.stdout.on('data', (d: Buffer) => (report += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    if (code !== 0) throw new Error(`dead-peer client exited ${code}`);
    const atExit = await stats();
    await new Promise((r) => setTimeout(r, afterS * 1000));
    clearInterval(sampler);
    const after = await stats();
    peak = Math.max(peak, atExit.rss, after.rss);
    const written = (JSON.parse(report) as { bytesWritten: number }).bytesWritten;
    console.log(
      `dead peer: ${conns} connections x ${streams} streams, up to ${mib} MiB each, never read; client wrote ${mb(written)} in ${Date.now() - started - afterS * 1000} ms`,
    );
    console.log(`  at client exit: ${atExit.streamsOpen} streams, ${atExit.upstreamSockets} upstream sockets, ${atExit.sessionsActive} sessions`);
    console.log(`  ${afterS} s after:    ${after.streamsOpen} streams, ${after.upstreamSockets} upstream sockets, ${after.sessionsActive} sessions`);
    console.log(`  RSS idle ${mb(idle.rss)}, peak ${mb(peak)}, ${afterS} s after exit ${mb(after.rss)}; after/idle ${(after.rss / idle.rss).toFixed(2)}x`);
    if (after.streamsOpen !== 0 || after.upstreamSockets !== 0) process.exitCode = 1;
  } finally {
    server?.kill();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
