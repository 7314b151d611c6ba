/**
 * HBONE throughput and latency on 127.0.0.1, against direct TCP and (if
 * installed) an stunnel4 mTLS pair: the DESIGN.md "Speed" comparison.
 *
 *   npm run build && node dist/bench/hbone-throughput.js [--seconds 10] [--bytes 1073741824]
 *       [--rr 2000] [--matrix "4M/16M/64K,16M/64M/1M"] [--no-stunnel]
 *
 * Topology (the daemon's): app -> TCP -> [outbound process: HboneClient]
 *   == mTLS HTTP/2 CONNECT ==> [inbound process: HboneServer] -> TCP -> sink.
 * The two HBONE ends run in their own processes, as two daemons would; the
 * load generator and the sink share the parent. Matrix entries are
 * streamWindow/connectionWindow/maxFrameSize.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HboneClient, HboneServer, splice, type H2Tuning, type TlsIdentity } from '../core/hbone/index.js';
import { makeTestCa, workload } from '../test/helpers/test-pki.js';
import { BULK_BYTE, createSinkServer } from './sink.js';

const SELF = fileURLToPath(import.meta.url);
const CLIENT_ID = workload('bench', 'client');

// ---------- child roles ----------

interface RoleMessage {
  role: 'hbone-in' | 'hbone-out';
  identity: TlsIdentity;
  tuning: Partial<H2Tuning>;
  /** hbone-in: the sink; hbone-out: the HBONE server. */
  target: number;
}

async function runRole(msg: RoleMessage): Promise<void> {
  if (msg.role === 'hbone-in') {
    const server = new HboneServer({
      identity: msg.identity,
      tuning: msg.tuning,
      resolveUpstream: ({ destination }) => ({ host: '127.0.0.1', port: destination.port }),
    });
    const { port } = await server.listen(0, '127.0.0.1');
    process.send!({ port });
    return;
  }
  const client = new HboneClient({ getSecureContext: () => msg.identity, tuning: msg.tuning });
  const listener = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.pause();
    client.connect({ peer: { host: '127.0.0.1', port: msg.target }, authority: `127.0.0.1:${Number(process.env.SINK_PORT)}`, source: CLIENT_ID }).then(
      (stream) => splice(stream, socket),
      () => socket.resetAndDestroy(),
    );
  });
  listener.listen(0, '127.0.0.1', () => process.send!({ port: (listener.address() as AddressInfo).port }));
}

// ---------- measurement ----------

interface Numbers {
  gbps: number;
  p50: number;
  p99: number;
  connectP50: number;
}

const CHUNK = Buffer.alloc(256 * 1024, BULK_BYTE);
const END_MARK = Buffer.from([0]);

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function bulk(port: number, bytes: number, seconds: number): Promise<number> {
  const socket = tcpConnect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  const reply = readAll(socket);
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let sent = 0;
  while (sent < bytes && Date.now() < deadline) {
    sent += CHUNK.length;
    if (!socket.write(CHUNK)) await once(socket, 'drain');
  }
  socket.write(END_MARK);
  sent += 1;
  const received = Number((await reply).toString());
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  socket.destroy();
  if (received !== sent) throw new Error(`sink got ${received} of ${sent} bytes`);
  return (sent * 8) / elapsed / 1e9;
}

async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sequential 64-byte ping-pongs on one connection; microseconds. */
async function requestResponse(port: number, count: number): Promise<number[]> {
  const socket = tcpConnect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  const msg = Buffer.alloc(64, 0x41);
  const times: number[] = [];
  let pending: (() => void) | undefined;
  let got = 0;
  socket.on('data', (c: Buffer) => {
    got += c.length;
    if (got >= msg.length) {
      got -= msg.length;
      pending?.();
    }
  });
  for (let i = 0; i < count + 100; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      socket.write(msg);
    });
    if (i >= 100) times.push(Number(process.hrtime.bigint() - t0) / 1000); // first 100 warm up
  }
  socket.destroy();
  return times.sort((a, b) => a - b);
}

/** New connection + one ping-pong, sequentially; microseconds (a new CONNECT stream per connection). */
async function connectLatency(port: number, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const socket = tcpConnect({ port, host: '127.0.0.1', noDelay: true });
    socket.write('B');
    await once(socket, 'data');
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    socket.destroy();
  }
  return times.sort((a, b) => a - b);
}

async function measure(port: number, opts: Options): Promise<Numbers> {
  await connectLatency(port, 20); // warm pools and JIT
  const gbps = await bulk(port, opts.bytes, opts.seconds);
  const rr = await requestResponse(port, opts.rr);
  const conn = await connectLatency(port, 300);
  return { gbps, p50: percentile(rr, 50), p99: percentile(rr, 99), connectP50: percentile(conn, 50) };
}

// ---------- topologies ----------

async function child(msg: RoleMessage, sinkPort: number, children: ChildProcess[]): Promise<number> {
  const proc = fork(SELF, ['--child'], { env: { ...process.env, SINK_PORT: String(sinkPort), AMBIT_LOG_LEVEL: 'warn' } });
  children.push(proc);
  proc.send(msg);
  const [reply] = (await once(proc, 'message')) as [{ port: number }];
  return reply.port;
}

async function hbonePair(tuning: Partial<H2Tuning>, pki: Awaited<ReturnType<typeof makeTestCa>>, sinkPort: number, children: ChildProcess[]): Promise<number> {
  const inbound = await child({ role: 'hbone-in', identity: await pki.issue(workload('bench', 'node-b')), tuning, target: sinkPort }, sinkPort, children);
  return child({ role: 'hbone-out', identity: await pki.issue(CLIENT_ID), tuning, target: inbound }, sinkPort, children);
}

async function stunnelPair(pki: Awaited<ReturnType<typeof makeTestCa>>, sinkPort: number, children: ChildProcess[], dir: string): Promise<number | undefined> {
  const server = await pki.issue(workload('bench', 'node-b'));
  const client = await pki.issue(CLIENT_ID);
  const free = async (): Promise<number> => {
    const probe = createServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    return port;
  };
  const [inPort, outPort] = [await free(), await free()];
  await writeFile(join(dir, 's.key'), String(server.key));
  await writeFile(join(dir, 's.crt'), String(server.cert));
  await writeFile(join(dir, 'c.key'), String(client.key));
  await writeFile(join(dir, 'c.crt'), String(client.cert));
  await writeFile(join(dir, 'ca.pem'), pki.rootPem);
  const conf = (name: string, body: string): Promise<void> => writeFile(join(dir, name), `foreground = yes\npid =\ndebug = 3\n${body}`);
  await conf(
    'in.conf',
    `[in]\naccept = 127.0.0.1:${inPort}\nconnect = 127.0.0.1:${sinkPort}\ncert = ${dir}/s.crt\nkey = ${dir}/s.key\nCAfile = ${dir}/ca.pem\nverifyChain = yes\nsslVersionMin = TLSv1.3\n`,
  );
  await conf(
    'out.conf',
    `[out]\nclient = yes\naccept = 127.0.0.1:${outPort}\nconnect = 127.0.0.1:${inPort}\ncert = ${dir}/c.crt\nkey = ${dir}/c.key\nCAfile = ${dir}/ca.pem\nverifyChain = yes\nsslVersionMin = TLSv1.3\n`,
  );
  for (const name of ['in.conf', 'out.conf']) {
    const proc = spawn('stunnel4', [join(dir, name)], { stdio: 'ignore' });
    proc.on('error', () => undefined);
    children.push(proc);
  }
  // stunnel gives no readiness signal: poll until the entrance accepts.
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(outPort, '127.0.0.1', () => (s.destroy(), resolve(true))).on('error', () => resolve(false));
    });
    if (ok) return outPort;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

// ---------- main ----------

interface Options {
  seconds: number;
  bytes: number;
  rr: number;
  matrix: Array<Partial<H2Tuning>>;
  stunnel: boolean;
  /** Rounds over all paths; each row reports its median round (the host is shared and noisy). */
  repeat: number;
}

function size(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new Error(`bad size ${text}`);
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!.toUpperCase()]!;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? fallback : argv[i + 1]!;
  };
  const matrix = get('matrix', 'default,64K/64K/16K,4M/16M/16K,4M/16M/64K,16M/64M/256K')
    .split(',')
    .map((entry) => {
      if (entry === 'default') return {};
      const [streamWindow, connectionWindow, maxFrameSize] = entry.split('/').map(size);
      return { streamWindow: streamWindow!, connectionWindow: connectionWindow!, maxFrameSize: maxFrameSize! };
    });
  return {
    seconds: Number(get('seconds', '10')),
    bytes: size(get('bytes', '1G')),
    rr: Number(get('rr', '2000')),
    matrix,
    stunnel: !argv.includes('--no-stunnel'),
    repeat: Number(get('repeat', '1')),
  };
}

const label = (t: Partial<H2Tuning>): string =>
  t.streamWindow === undefined ? 'hbone (defaults)' : `hbone ${t.streamWindow / 1024}K/${t.connectionWindow! / 1024}K/${t.maxFrameSize! / 1024}K`;

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const pki = await makeTestCa();
  const sink = createSinkServer();
  const sinkPort = await listen(sink);
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-'));
  const samples = new Map<string, Numbers[]>();
  const run = async (name: string, setup: (children: ChildProcess[]) => Promise<number | undefined>): Promise<void> => {
    const children: ChildProcess[] = [];
    try {
      const port = await setup(children);
      if (port === undefined) return console.error(`${name}: skipped (not available)`);
      const numbers = await measure(port, opts);
      samples.set(name, [...(samples.get(name) ?? []), numbers]);
      console.error(
        `${name}: ${numbers.gbps.toFixed(2)} Gbit/s, rr p50 ${numbers.p50.toFixed(0)} us p99 ${numbers.p99.toFixed(0)} us, connect p50 ${numbers.connectP50.toFixed(0)} us`,
      );
    } finally {
      for (const c of children) c.kill();
    }
  };
  try {
    for (let round = 0; round < opts.repeat; round++) {
      await run('direct tcp', async () => sinkPort);
      if (opts.stunnel) await run('stunnel4 mTLS pair', (children) => stunnelPair(pki, sinkPort, children, dir));
      for (const tuning of opts.matrix) await run(label(tuning), (children) => hbonePair(tuning, pki, sinkPort, children));
    }
  } finally {
    sink.close();
    await rm(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows: Array<[string, Numbers]> = [...samples].map(([name, list]) => [
    name,
    {
      gbps: median(list.map((n) => n.gbps)),
      p50: median(list.map((n) => n.p50)),
      p99: median(list.map((n) => n.p99)),
      connectP50: median(list.map((n) => n.connectP50)),
    },
  ]);
  const base = rows.find(([n]) => n.startsWith('stunnel'))?.[1] ?? rows[0]![1];
  console.log(`\n| path | Gbit/s | vs ${rows.find(([n]) => n.startsWith('stunnel')) ? 'stunnel' : 'direct'} | rr p50 us | rr p99 us | connect+rr p50 us |`);
  console.log('|---|---|---|---|---|---|');
  for (const [name, n] of rows) {
    console.log(
      `| ${name} | ${n.gbps.toFixed(2)} | ${(n.gbps / base.gbps).toFixed(2)} | ${n.p50.toFixed(0)} | ${n.p99.toFixed(0)} | ${n.connectP50.toFixed(0)} |`,
    );
  }
  process.exit(0);
}

if (process.argv.includes('--child')) {
  process.once('message', (msg: RoleMessage) => void runRole(msg));
} else {
  await main();
}
