/**
 * What unauthenticated floods cost ambitd in memory (issue 19): rounds of N
 * idle TCP connections to the HBONE port that never send a TLS byte, as a
 * scanner or an attacker would. Each round opens them from many loopback
 * source addresses (127.1.x.y, so the per-address pending-handshake limit
 * does not do all the work), holds them until the server closes them, and
 * samples the server's memory once they are gone. The issue saw RSS climb
 * 159 -> 660 MB over six floods of 5,000 with each socket held 120 s.
 *
 * The server is ambitd's real inbound (bench/dead-peer/server.ts: the
 * ambitd.yaml defaults, hbone.handshakeTimeout 5 s and 32 pending handshakes
 * per address, and ambitd's memory release). The peer, in the same run, is a
 * bare node:tls server with the same certificate that closes a connection
 * silent for 5 s: Node's own floor under the same flood. (Its handshakeTimeout
 * alone never fires for a socket that sends nothing: measured here, each such
 * socket stayed until the client gave up.) Prints, per round, both
 * RSS and how many connections each held at the end, then RSS last/idle for
 * both and ambitd's ratio to the peer.
 *
 *   npm run bench:flood [-- --conns 5000 --rounds 6 --settle 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeTestCa, workload } from '../test/helpers/test-pki.js';

const SERVER = fileURLToPath(new URL('./dead-peer/server.js', import.meta.url));
/** The peer: node:tls alone, answering "stats" with its RSS and open sockets. */
const PEER = `
const tls = require('node:tls'); const fs = require('node:fs'); const path = require('node:path');
const dir = process.argv[1];
let open = 0;
const server = tls.createServer({ cert: fs.readFileSync(path.join(dir, 'server-cert.pem')), key: fs.readFileSync(path.join(dir, 'server-key.pem')),
  ca: fs.readFileSync(path.join(dir, 'ca.pem')), requestCert: true, handshakeTimeout: 5000 }, (s) => s.end());
// tls's handshakeTimeout does not start until the first byte arrives: a silent socket needs its own deadline.
server.on('connection', (s) => { open++; s.on('close', () => open--); s.setTimeout(5000, () => s.destroy()); s.once('secure', () => s.setTimeout(0)); });
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
require('node:readline').createInterface({ input: process.stdin }).on('line', () => console.log(JSON.stringify({ memory: { rss: process.memoryUsage.rss() }, open })));`;
/**
 * The dial never waits longer than this for a server to close a connection: a
 * connect the kernel completed while the accept queue was full was never seen
 * by the server, and, silent, is never closed by it ("held s" then reads this).
 */
const ROUND_LIMIT_MS = 15_000;

const arg = (name: string, fallback: string): number => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i === -1 ? fallback : process.argv[i + 1]);
};
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

interface Target {
  name: string;
  port: number;
  stats(): Promise<{ rss: number; open: number }>;
  child: ChildProcess;
}

/** A child that prints {"port"} first and answers each stdin line with one JSON line (log lines, with "msg", skipped). */
async function startTarget(name: string, args: string[]): Promise<Target> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const line = await lines.next();
      if (line.done) throw new Error(`the ${name} server exited`);
      const value = JSON.parse(line.value) as Record<string, unknown>;
      if (!('msg' in value)) return value;
    }
  };
  const { port } = (await next()) as { port: number };
  let queue = Promise.resolve({ rss: 0, open: 0 });
  const stats = (): Promise<{ rss: number; open: number }> =>
    (queue = queue.then(async () => {
      child.stdin.write('stats\n');
      const s = (await next()) as { memory: { rss: number }; open?: number; sessionsActive?: number; handshakesPending?: number };
      return { rss: s.memory.rss, open: s.open ?? (s.sessionsActive ?? 0) + (s.handshakesPending ?? 0) };
    }));
  return { name, port, stats, child };
}

/** N connections from 127.1.x.y that send nothing; resolves once the server closed them all (or the round limit passed). */
async function flood(port: number, conns: number): Promise<{ closedByServer: number; heldMs: number }> {
  const started = Date.now();
  const sockets: Socket[] = [];
  let closedByServer = 0;
  await new Promise<void>((resolve) => {
    let left = conns;
    const done = (): void => {
      if (--left === 0) resolve();
    };
    for (let i = 0; i < conns; i++) {
      const localAddress = `127.1.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
      const s = connect({ port, host: '127.0.0.1', localAddress });
      s.on('error', () => undefined);
      s.on('end', () => closedByServer++);
      s.once('close', done);
      sockets.push(s);
    }
    setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, ROUND_LIMIT_MS).unref();
  });
  return { closedByServer, heldMs: Date.now() - started };
}

async function main(): Promise<void> {
  const conns = arg('conns', '5000');
  const rounds = arg('rounds', '6');
  const settleS = arg('settle', '5');
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-flood-'));
  const upstream = createServer((s) => s.end());
  const targets: Target[] = [];
  try {
    const pki = await makeTestCa();
    const node = await pki.issue(workload('ambit-system', 'bench-node'));
    const files = { 'server-cert.pem': node.cert, 'server-key.pem': node.key, 'ca.pem': pki.rootPem };
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text, { mode: 0o600 })));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    targets.push(await startTarget('ambitd', [SERVER, '--dir', dir, '--upstream', String(upstreamPort)]));
    targets.push(await startTarget('node:tls', ['-e', PEER, dir]));
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await Promise.all(targets.map((t) => t.stats()));
    let last = idle;
    console.log(`flood: ${rounds} rounds of ${conns} idle TCP connections (no TLS bytes) from 127.1.x.y, ${settleS} s settle after each`);
    console.log(`  ${'round'.padEnd(7)}${targets.map((t) => `${t.name} RSS MB`.padStart(16) + 'held s'.padStart(9) + 'open'.padStart(6)).join('')}`);
    console.log(`  ${'idle'.padEnd(7)}${idle.map((s) => mb(s.rss).padStart(16) + ''.padStart(9) + String(s.open).padStart(6)).join('')}`);
    for (let round = 1; round <= rounds; round++) {
      // One target at a time: both floods at once would measure the shared CPU, not the server.
      const held: number[] = [];
      for (const t of targets) held.push((await flood(t.port, conns)).heldMs);
      await new Promise((r) => setTimeout(r, settleS * 1000));
      last = await Promise.all(targets.map((t) => t.stats()));
      console.log(
        `  ${String(round).padEnd(7)}${last.map((s, i) => mb(s.rss).padStart(16) + (held[i]! / 1000).toFixed(1).padStart(9) + String(s.open).padStart(6)).join('')}`,
      );
    }
    const growth = targets.map((t, i) => ({ name: t.name, ratio: last[i]!.rss / idle[i]!.rss, added: last[i]!.rss - idle[i]!.rss }));
    for (const g of growth) console.log(`  ${g.name}: RSS last/idle ${g.ratio.toFixed(2)}x (+${mb(g.added)} MB)`);
    console.log(`  ambitd RSS after the floods / node:tls's: ${(last[0]!.rss / last[1]!.rss).toFixed(2)}x`);
    // The peer's leftovers are its own business (its timer starts at accept); ambitd must hold nothing.
    if (last[0]!.open !== 0) {
      console.log(`  FAIL: ambitd still holds ${last[0]!.open} connections after the floods`);
      process.exitCode = 1;
    }
  } finally {
    for (const t of targets) t.child.kill();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
