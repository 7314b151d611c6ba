/**
 * The load generator and the sink for bench/l4.ts, run inside the bench's
 * network namespaces (the client as an enrolled uid for the ambit path, so it
 * is a separate program rather than code in the orchestrator):
 *
 *   node dist/bench/l4/load.js sink <ip> <port>
 *   node dist/bench/l4/load.js bulk|rr|conn|probe <host> <port> [key=value ...]
 *
 * Each client mode prints one JSON line with its numbers on stdout.
 */
import { once } from 'node:events';
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, type Socket } from 'node:net';
import { BULK_BYTE, createSinkServer } from '../sink.js';

const END_MARK = Buffer.from([0]);

/** The sink of bench/sink.ts, listening inside the server namespace. */
function sink(host: string, port: number): void {
  const server = createSinkServer();
  server.listen(port, host, () => process.stdout.write('listening\n'));
}

interface Args {
  host: string;
  port: number;
  opts: Map<string, number>;
}

function connect(args: Args, noDelay: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: args.host, port: args.port, noDelay });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One connection, 256 KiB writes until the byte or time bound; Gbit/s from the first write to the sink's count. */
async function bulk(args: Args): Promise<object> {
  const seconds = args.opts.get('seconds') ?? 5;
  const bytes = args.opts.get('bytes') ?? 2 * 1024 ** 3;
  const chunk = Buffer.alloc(256 * 1024, BULK_BYTE);
  const socket = await connect(args, false);
  const replyChunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => replyChunks.push(c));
  const replied = once(socket, 'end');
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let sent = 0;
  while (sent < bytes && Date.now() < deadline) {
    sent += chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.write(END_MARK);
  sent += 1;
  await replied;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  socket.destroy();
  const received = Number(Buffer.concat(replyChunks).toString());
  if (received !== sent) throw new Error(`sink got ${received} of ${sent} bytes`);
  return { gbps: (sent * 8) / elapsed / 1e9, bytes: sent, seconds: elapsed };
}

function percentiles(times: number[]): { p50: number; p99: number; p999: number } {
  const sorted = times.sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

/** Sequential 100-byte exchanges on one connection; microseconds. The first `warmup` are not counted. */
async function requestResponse(args: Args): Promise<object> {
  const count = args.opts.get('count') ?? 5000;
  const warmup = args.opts.get('warmup') ?? 200;
  const msg = Buffer.alloc(100, 0x41);
  const socket = await connect(args, true);
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
  for (let i = 0; i < count + warmup; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      socket.write(msg);
    });
    if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  socket.destroy();
  return { count, ...percentiles(times) };
}

/** Connect, one 1-byte exchange, close; `concurrency` loops until `count` connections. */
async function connections(args: Args): Promise<object> {
  const count = args.opts.get('count') ?? 2000;
  const concurrency = args.opts.get('concurrency') ?? 8;
  const times: number[] = [];
  const errors = new Map<string, number>();
  let started = 0;
  // A failed connection is counted and reported, not fatal: how often the
  // path drops a connection under churn is one of the things measured.
  const one = async (): Promise<void> => {
    const t0 = process.hrtime.bigint();
    let socket: Socket | undefined;
    try {
      socket = await connect(args, true);
      socket.write('B');
      await once(socket, 'data');
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'ERROR';
      errors.set(code, (errors.get(code) ?? 0) + 1);
    } finally {
      socket?.destroy();
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        await one();
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { count, concurrency, perSecond: times.length / elapsed, failed: count - times.length, errors: Object.fromEntries(errors), ...percentiles(times) };
}

async function main(argv: string[]): Promise<void> {
  const [mode, host, port, ...rest] = argv;
  if (!mode || !host || !port) throw new Error('usage: load.js sink|bulk|rr|conn|probe <host> <port> [key=value ...]');
  if (mode === 'sink') return sink(host, Number(port));
  // A mesh name is resolved once, up front: the numbers are about the data path, not DNS.
  const { address } = await lookup(host, { family: 4 });
  const args: Args = { host: address, port: Number(port), opts: new Map(rest.map((kv) => kv.split('=') as [string, string]).map(([k, v]) => [k, Number(v)])) };
  const run = {
    bulk,
    rr: requestResponse,
    conn: connections,
    probe: (a: Args) =>
      requestResponse({
        ...a,
        opts: new Map([
          ['count', 1],
          ['warmup', 0],
        ]),
      }),
  }[mode];
  if (!run) throw new Error(`unknown mode ${mode}`);
  const result = await run(args);
  process.stdout.write(`${JSON.stringify({ address, ...result })}\n`);
  process.exit(0);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`load: ${(err as Error).message}\n`);
  process.exit(1);
});
