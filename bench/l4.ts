/**
 * The L4 data plane benchmark: on one two-host netns topology (a = client,
 * b = server), in one run, direct TCP vs an stunnel4 mTLS pair vs ambit
 * (client as an enrolled uid dialling the service's mesh name, ambitd on both
 * hosts carrying it over HBONE). DESIGN.md "Speed" is the question it answers.
 *
 *   npm run bench:l4 [-- --rounds 3 --seconds 5 --bytes 2G --rr 5000 --conns 2000
 *       --concurrency 8 --paths direct,stunnel,ambit --metrics bulk,rr,conn --no-write]
 *
 * AMBIT_BENCH_PROF=<dir> runs both daemons under --cpu-prof (profiles land in
 * <dir> when the bench stops them); AMBIT_BENCH_NODE_ARGS adds other node flags
 * to the daemons, for trying V8 settings without a rebuild.
 *
 * Rounds interleave the paths so that load from other jobs on a shared host
 * hits them alike; the table shows the best round and the median.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMesh, type Mesh } from '../test/helpers/mesh.js';
import { requireNetns, waitForOutput, type ExecResult } from '../test/helpers/netns.js';
import { noise, SECTION, table, type PathName, type Rss, type Sample } from './l4/report.js';
import { onMesh } from './mesh-run.js';
import { peakRss, usageDuring, vmRssKb } from './process-stats.js';
import { loadAverage, publish } from './results-file.js';
import { haveStunnel, startStunnelPair, STUNNEL_HINT } from './l4/stunnel.js';

const LOAD = fileURLToPath(new URL('./l4/load.js', import.meta.url));
const SINK_PORT = 9000;
const STUNNEL_PORT = 9443;
const CLIENT_UID = 2101;
const SERVICE = 'bench-sink';
const NAME = `${SERVICE}.default.svc.cluster.local`;

interface Options {
  rounds: number;
  seconds: number;
  bytes: string;
  rr: number;
  conns: number;
  concurrency: number;
  paths: PathName[];
  /** Which measurements to run (all by default): narrowing this makes a profile show one workload. */
  metrics: string[];
  write: boolean;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? fallback : argv[i + 1]!;
  };
  const paths = get('paths', 'direct,stunnel,ambit').split(',') as PathName[];
  return {
    rounds: Number(get('rounds', '3')),
    seconds: Number(get('seconds', '5')),
    bytes: get('bytes', '2G'),
    rr: Number(get('rr', '5000')),
    conns: Number(get('conns', '2000')),
    concurrency: Number(get('concurrency', '8')),
    paths,
    metrics: get('metrics', 'bulk,rr,conn').split(','),
    write: !argv.includes('--no-write'),
  };
}

function bytes(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

/** How each path's client reaches the sink from host a. */
interface Path {
  name: PathName;
  run(args: string[]): Promise<ExecResult>;
  /** The processes carrying the traffic (stunnel or ambitd on a and b), whose CPU is accounted. */
  proxies: Array<{ host: string; pid: number | undefined }>;
}

type Numbers = Record<string, number> & { errors?: Record<string, number> };

async function client(path: Path, mode: string, opts: string[]): Promise<Numbers> {
  const r = await path.run([LOAD, mode, ...opts]);
  if (r.code !== 0) throw new Error(`${path.name} ${mode}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Numbers;
}

/** CPU seconds the path's proxies (both ends) spent while `work` ran, and how it split between hosts. */
async function proxyCpu<T>(path: Path, work: () => Promise<T>): Promise<{ result: T; total: number; split: string; syscalls: number }> {
  const {
    result,
    cpu,
    syscalls: calls,
  } = await usageDuring(
    path.proxies.map((p) => p.pid),
    work,
  );
  return {
    result,
    total: cpu.reduce((a, b) => a + b, 0),
    split: path.proxies.map((p, i) => `${p.host} ${cpu[i]!.toFixed(1)} s`).join(', '),
    syscalls: calls.reduce((a, b) => a + b, 0),
  };
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`${what}: not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function setUp(opts: Options, dir: string): Promise<{ mesh: Mesh; paths: Path[] }> {
  const prof = process.env.AMBIT_BENCH_PROF;
  const daemonNodeArgs = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), ...(process.env.AMBIT_BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  const mesh = await createMesh(['a', 'b'], { daemonNodeArgs });
  try {
    const b = mesh.topo.host('b');
    const sink = mesh.topo.spawn('b', process.execPath, [LOAD, 'sink', b.address, String(SINK_PORT)]);
    await waitForOutput(sink, /listening/);
    sink.stdout?.resume();
    const node = process.execPath;
    const paths: Path[] = [];
    if (opts.paths.includes('direct')) {
      // root on a is not enrolled: its traffic is not captured.
      paths.push({
        name: 'direct',
        proxies: [],
        run: (args) => mesh.topo.exec('a', node, [...args.slice(0, 2), b.address, String(SINK_PORT), ...args.slice(2)], { timeoutMs: 60_000 }),
      });
    }
    if (opts.paths.includes('stunnel')) {
      if (!haveStunnel()) console.error(`${STUNNEL_HINT}; continuing without the stunnel column`);
      else {
        const pair = await startStunnelPair(mesh.topo, dir, { host: b.address, port: SINK_PORT }, STUNNEL_PORT);
        const path: Path = {
          name: 'stunnel',
          proxies: pair.processes,
          run: (args) => mesh.topo.exec('a', node, [...args.slice(0, 2), pair.host, String(pair.port), ...args.slice(2)], { timeoutMs: 60_000 }),
        };
        // stunnel gives no readiness signal: poll through it to the sink.
        await eventually(async () => (await path.run([LOAD, 'probe'])).code === 0, 10_000, 'stunnel pair');
        paths.push(path);
      }
    }
    if (opts.paths.includes('ambit')) {
      for (const host of ['a', 'b']) await mesh.startDaemon(host);
      const enroll = async (host: string, args: string[]): Promise<void> => {
        const r = await mesh.ambit(host, ['enroll', ...args, '--node', host, '--address', mesh.topo.host(host).address]);
        if (r.code !== 0) throw new Error(`enroll ${args[0]}: ${r.stderr}`);
      };
      await enroll('b', [SERVICE, '--port', String(SINK_PORT)]);
      await enroll('a', ['bench-client', '--port', '9001', '--user', String(CLIENT_UID)]);
      const path: Path = {
        name: 'ambit',
        proxies: [...mesh.daemons].map(([host, child]) => ({ host, pid: child.pid })),
        run: (args) => mesh.asUser('a', CLIENT_UID, node, [...args.slice(0, 2), NAME, String(SINK_PORT), ...args.slice(2)], 60_000),
      };
      // Daemons pick enrollments up from the store: wait for certificates and capture rules.
      await eventually(async () => (await path.run([LOAD, 'probe'])).code === 0, 30_000, 'ambit path');
      paths.push(path);
      // For attaching perf or a debugger to the daemons while the bench runs.
      console.error(`ambitd pids: ${path.proxies.map((p) => `${p.host} ${p.pid}`).join(', ')}`);
    }
    return { mesh, paths };
  } catch (err) {
    await mesh.destroy();
    throw err;
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  requireNetns();
  const command = `node dist/bench/l4.js${process.argv
    .slice(2)
    .map((a) => ` ${a}`)
    .join('')}`;
  const loadBefore = loadAverage();
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-l4-'));
  const { mesh, paths } = await setUp(opts, dir);
  const samples = new Map<PathName, Sample[]>();
  let rss: Rss | undefined;
  await onMesh(mesh, dir, async () => {
    if (mesh.daemons.size > 0) {
      rss = { idle: {}, bulk: {} };
      for (const [host, child] of mesh.daemons) rss.idle[host] = (await vmRssKb(child.pid)) ?? 0;
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const path of paths) {
        const skipped: Numbers = {};
        const want = (metric: string, run: () => Promise<Numbers>): Promise<Numbers> => (opts.metrics.includes(metric) ? run() : Promise.resolve(skipped));
        const bulkRun = (): Promise<Numbers> => client(path, 'bulk', [`seconds=${opts.seconds}`, `bytes=${bytes(opts.bytes)}`]);
        const cpu: string[] = [];
        const cpuTotal = new Map<string, number>();
        const measured = async (metric: string, run: () => Promise<Numbers>): Promise<Numbers> => {
          const { result, total, split, syscalls: calls } = await proxyCpu(path, run);
          const perUnit = metric === 'bulk' ? `, ${(calls / ((result.bytes ?? NaN) / 1024 ** 3)).toFixed(0)} read/write syscalls per GiB` : '';
          if (path.proxies.length > 0) cpu.push(`${metric}: ${split}${perUnit}`);
          cpuTotal.set(metric, total);
          return result;
        };
        const bulk = await want('bulk', () =>
          measured('bulk', () =>
            path.name === 'ambit' && rss ? peakRss(new Map([...mesh.daemons].map(([host, child]) => [host, child.pid])), rss.bulk, bulkRun) : bulkRun(),
          ),
        );
        const rr = await want('rr', () => measured('rr', () => client(path, 'rr', [`count=${opts.rr}`])));
        const conn = await want('conn', () => measured('conn', () => client(path, 'conn', [`count=${opts.conns}`, `concurrency=${opts.concurrency}`])));
        const perProxy = (v: number): number => (path.proxies.length > 0 ? v : NaN);
        const sample: Sample = {
          gbps: bulk.gbps ?? NaN,
          p50: rr.p50 ?? NaN,
          p99: rr.p99 ?? NaN,
          p999: rr.p999 ?? NaN,
          connPerSecond: conn.perSecond ?? NaN,
          connFailed: conn.failed ?? 0,
          bulkCpuPerGiB: perProxy((cpuTotal.get('bulk') ?? NaN) / ((bulk.bytes ?? NaN) / 1024 ** 3)),
          connCpuMs: perProxy(((cpuTotal.get('conn') ?? NaN) * 1000) / (conn.count ?? NaN)),
        };
        console.error(
          `round ${round} ${path.name}: ${sample.gbps.toFixed(2)} Gbit/s, rr p50/p99/p99.9 ${sample.p50.toFixed(0)}/${sample.p99.toFixed(0)}/${sample.p999.toFixed(0)} µs, ${sample.connPerSecond.toFixed(0)} conn/s${sample.connFailed ? ` (${sample.connFailed} failed: ${JSON.stringify(conn.errors)})` : ''}${cpu.length ? `; proxy CPU ${cpu.join('; ')}` : ''}`,
        );
        samples.set(path.name, [...(samples.get(path.name) ?? []), sample]);
      }
    }
  });
  await publish(
    SECTION,
    {
      loadBefore,
      command,
      source: 'bench/l4.ts',
      description: `Two netns hosts on a bridge (a = client, b = server with a Node sink/echo). direct: TCP a→b. stunnel: stunnel4 client on a, server on b, TLS 1.3 mTLS with certificates made for the run. ambit: the client runs on a as an enrolled uid and dials ${NAME} (its VIP); iptables captures it into ambitd on a, which tunnels it over HBONE (mTLS HTTP/2 CONNECT) to ambitd on b. Bulk: one connection, ${opts.seconds} s or ${opts.bytes.replace(/([KMG])$/i, ' $1iB')}, whichever first. Request/response: ${opts.rr} sequential 100-byte exchanges on one connection (after 200 warm-up). New connections: ${opts.conns} × (connect + 1-byte exchange + close), ${opts.concurrency} at a time. ${opts.rounds} rounds, paths interleaved.`,
      table: table(samples, rss),
      after: `Per round: ${noise(samples)}.`,
    },
    opts.write,
  );
  process.exit(0);
}

await main();
