/**
 * The HTTP benchmark (issue 7): on one netns topology, in one run, HTTP/1.1
 * keep-alive requests/s and p50/p99 latency at a fixed concurrency through
 *   direct    client on a → the origin on b (root on a is not enrolled: not captured)
 *   haproxy   client on a → haproxy on c (plain HTTP reverse proxy) → origin on b
 *   haproxy-tls  the waypoint path hop for hop with haproxy (waypoint/haproxy.ts): haproxy on a
 *             (TCP, plaintext → mTLS) → haproxy on c (HTTP, mTLS → mTLS) → haproxy on b (TCP, mTLS → plaintext) → origin
 *   l4        client on a as an enrolled uid → the service's VIP → ambitd a → HBONE → ambitd b → origin
 *   waypoint  the same for a second service with `ambit waypoint attach --node c` and a VirtualService:
 *             ambitd a → HBONE → ambit-waypoint on c (L7 route) → HBONE → ambitd b → origin
 * DESIGN.md "Benchmarks" is the question it answers: ambit's waypoint vs haproxy.
 *
 *   npm run bench:waypoint [-- --rounds 3 --seconds 5 --concurrency 16
 *       --paths direct,haproxy,haproxy-tls,l4,waypoint --no-write]
 *
 * The load generator is wrk (one thread), run as the enrolled uid for the
 * ambit paths. AMBIT_BENCH_PROF=<dir> runs the daemons and the waypoint under
 * --cpu-prof (profiles land in <dir> when the bench stops them);
 * AMBIT_BENCH_NODE_ARGS adds other node flags to both.
 *
 * Rounds interleave the paths so that load from other jobs on a shared host
 * hits them alike; the table shows the best round and the median.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../test/helpers/eventually.js';
import { createMesh, type Mesh } from '../test/helpers/mesh.js';
import { requireNetns, waitForOutput } from '../test/helpers/netns.js';
import { daemonTrouble, onMesh } from './mesh-run.js';
import { peakRss, usageDuring, vmRssKb } from './process-stats.js';
import { loadAverage, publish } from './results-file.js';
import { HAPROXY_HINT, haproxyVersion, haveHaproxy, startHaproxy, startHaproxyMesh } from './waypoint/haproxy.js';
import { ORIGIN_BODY } from './waypoint/origin.js';
import { noise, PATH_NAMES, SECTION, table, type PathName, type Rss, type Sample } from './waypoint/report.js';
import { errorCount, errorKinds, haveWrk, runWrk, WRK_HINT, type Runner, type WrkResult } from './waypoint/wrk.js';

const ORIGIN = fileURLToPath(new URL('./waypoint/origin.js', import.meta.url));
/** The origin serves the L4 service (and direct, haproxy) on one port and the waypoint's service on another. */
const PORT = 8080;
const WAYPOINT_SERVICE_PORT = 8081;
const CLIENT_UID = 2101;
const SERVICE = 'bench-http';
const WAYPOINT_SERVICE = 'bench-http-wp';
const fqdn = (service: string): string => `${service}.default.svc.cluster.local`;
const WARMUP_SECONDS = 2;

interface Options {
  rounds: number;
  seconds: number;
  concurrency: number;
  paths: PathName[];
  write: boolean;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? fallback : (argv[i + 1] ?? '');
  };
  const count = (name: string, fallback: string): number => {
    const n = Number(get(name, fallback));
    if (!Number.isInteger(n) || n < 1) usage(`--${name} ${get(name, fallback)}: expected a whole number of at least 1`);
    return n;
  };
  const paths = get('paths', PATH_NAMES.join(',')).split(',');
  const unknown = paths.filter((p) => !(PATH_NAMES as readonly string[]).includes(p));
  if (unknown.length > 0) usage(`--paths: unknown ${unknown.join(', ')}; choose from ${PATH_NAMES.join(',')}`);
  return {
    rounds: count('rounds', '3'),
    seconds: count('seconds', '5'),
    concurrency: count('concurrency', '16'),
    paths: paths as PathName[],
    write: !argv.includes('--no-write'),
  };
}

function usage(message: string): never {
  console.error(`bench:waypoint: ${message}`);
  process.exit(2);
}

/** A process whose CPU and memory the bench accounts to a path. */
interface Proc {
  name: string;
  pid: number | undefined;
}

/** How each path's client reaches the origin from host a. */
interface Path {
  name: PathName;
  url: string;
  run: Runner;
  procs: Proc[];
  /** Requests the waypoint has finished so far: proof that a measurement went through it. */
  served?: () => Promise<number>;
}

/** Every accounted process once, by name (the ambit paths share the daemons). */
const processesOf = (paths: Path[]): Map<string, number | undefined> => new Map(paths.flatMap((p) => p.procs.map((q) => [q.name, q.pid] as const)));

/** Sum of a Prometheus counter's samples over all label sets. */
function counterSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Polls `url` through the path until the origin answers, so a path is measured only once it works. */
async function untilServing(path: Path, what: string, timeoutMs: number): Promise<void> {
  const probe = async (): Promise<boolean> => (await path.run('curl', ['-sS', '--max-time', '3', path.url], 10_000)).stdout === ORIGIN_BODY;
  await eventually(probe, timeoutMs).catch(() => {
    throw new Error(`${what}: ${path.url} did not answer with the origin's body within ${timeoutMs} ms`);
  });
}

async function setUp(opts: Options, dir: string): Promise<{ mesh: Mesh; paths: Path[]; notes: string[] }> {
  const prof = process.env.AMBIT_BENCH_PROF;
  const nodeArgs = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), ...(process.env.AMBIT_BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  // The daemons hand their environment to the waypoints they spawn.
  if (nodeArgs.length > 0) process.env.AMBIT_WAYPOINT_NODE_ARGS = nodeArgs.join(' ');
  const ambit = opts.paths.includes('l4') || opts.paths.includes('waypoint');
  const mesh = await createMesh(['a', 'b', 'c'], { daemonNodeArgs: nodeArgs });
  const notes: string[] = [];
  try {
    const { topo } = mesh;
    const b = topo.host('b');
    const c = topo.host('c');
    const origin = topo.spawn('b', process.execPath, [ORIGIN, b.address, String(PORT), String(WAYPOINT_SERVICE_PORT)]);
    await waitForOutput(origin, /listening/);
    origin.stdout?.resume();
    const asRoot: Runner = (cmd, args, timeoutMs) => topo.exec('a', cmd, args, { timeoutMs });
    const asClient: Runner = (cmd, args, timeoutMs) => mesh.asUser('a', CLIENT_UID, cmd, args, timeoutMs);
    const paths: Path[] = [];
    if (opts.paths.includes('direct')) paths.push({ name: 'direct', url: `http://${b.address}:${PORT}/`, run: asRoot, procs: [] });
    if (opts.paths.includes('haproxy')) {
      if (!haveHaproxy()) console.error(`${HAPROXY_HINT}; continuing without the haproxy column`);
      else {
        const pid = await startHaproxy(topo, 'c', dir, { host: c.address, port: PORT }, { host: b.address, port: PORT });
        const path: Path = { name: 'haproxy', url: `http://${c.address}:${PORT}/`, run: asRoot, procs: [{ name: 'haproxy', pid }] };
        await untilServing(path, 'haproxy', 10_000);
        paths.push(path);
        notes.push(`haproxy ${haproxyVersion()}`);
      }
    }
    if (opts.paths.includes('haproxy-tls')) {
      if (!haveHaproxy()) console.error(`${HAPROXY_HINT}; continuing without the haproxy mTLS column`);
      else {
        const hx = await startHaproxyMesh(topo, dir, { client: 'a', proxy: 'c', origin: 'b' }, { host: b.address, port: PORT }, [8443, 8444], 18080);
        const path: Path = { name: 'haproxy-tls', url: hx.url, run: asRoot, procs: hx.procs };
        await untilServing(path, 'haproxy mTLS', 10_000);
        paths.push(path);
      }
    }
    if (ambit) {
      for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
      const enroll = async (host: string, args: string[]): Promise<void> => {
        const r = await mesh.ambit(host, ['enroll', ...args, '--node', host, '--address', topo.host(host).address]);
        if (r.code !== 0) throw new Error(`enroll ${args[0]}: ${r.stderr}`);
      };
      await enroll('b', [SERVICE, '--port', String(PORT)]);
      await enroll('b', [WAYPOINT_SERVICE, '--port', String(WAYPOINT_SERVICE_PORT)]);
      await enroll('a', ['bench-client', '--port', '9001', '--user', String(CLIENT_UID)]);
      const daemon = (host: string): Proc => ({ name: `ambitd ${host}`, pid: mesh.daemons.get(host)?.pid });
      if (opts.paths.includes('l4')) {
        const path: Path = { name: 'l4', url: `http://${fqdn(SERVICE)}:${PORT}/`, run: asClient, procs: [daemon('a'), daemon('b')] };
        // Daemons pick enrollments up from the store: wait for certificates and capture rules.
        await untilServing(path, 'ambit L4', 30_000);
        paths.push(path);
      }
      if (opts.paths.includes('waypoint')) paths.push(await attachWaypoint(mesh, dir, asClient, [daemon('a'), daemon('b'), daemon('c')]));
      console.error(`pids: ${[...processesOf(paths)].map(([name, pid]) => `${name} ${pid}`).join(', ')}`);
    }
    return { mesh, paths, notes };
  } catch (err) {
    const trouble = daemonTrouble(mesh);
    if (trouble) console.error(`ambitd warnings:\n${trouble}`);
    await mesh.destroy();
    throw err;
  }
}

/**
 * The waypoint path: a VirtualService for the service (so every request is
 * routed by an L7 decision, not just passed on), then the waypoint on c, then
 * wait until requests show up in its own metrics.
 */
async function attachWaypoint(mesh: Mesh, dir: string, run: Runner, daemons: Proc[]): Promise<Path> {
  const vs = join(dir, 'virtual-service.yaml');
  await writeFile(
    vs,
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${WAYPOINT_SERVICE}\n  namespace: default\nspec:\n  hosts: [${WAYPOINT_SERVICE}]\n  http:\n  - name: bench\n    match:\n    - uri: {prefix: /}\n    route:\n    - destination: {host: ${WAYPOINT_SERVICE}, port: {number: ${WAYPOINT_SERVICE_PORT}}}\n`,
  );
  const apply = await mesh.ambit('store', ['apply', '-f', vs]);
  if (apply.code !== 0) throw new Error(`apply VirtualService: ${apply.stderr}`);
  const attach = await mesh.ambit('store', ['waypoint', 'attach', WAYPOINT_SERVICE, '--node', 'c']);
  if (attach.code !== 0) throw new Error(`waypoint attach: ${attach.stderr}`);
  const [info] = (JSON.parse((await mesh.ambit('store', ['waypoint', 'list', '-o', 'json'])).stdout) as { items: Array<{ metricsPort: number }> }).items;
  const tunnels = JSON.parse(await mesh.admin('c', '/tunnels')) as { waypoints: Array<{ service: string; pid?: number }> };
  const pid = tunnels.waypoints.find((w) => w.service === WAYPOINT_SERVICE)?.pid;
  if (!info || pid === undefined) throw new Error(`waypoint attach said "${attach.stdout.trim()}" but c's daemon lists no waypoint process`);
  const served = async (): Promise<number> => counterSum(await mesh.admin('c', '/metrics', info.metricsPort), 'istio_requests_total');
  const [a, b, c] = daemons;
  const path: Path = {
    name: 'waypoint',
    url: `http://${fqdn(WAYPOINT_SERVICE)}:${WAYPOINT_SERVICE_PORT}/`,
    run,
    procs: [a!, { name: 'waypoint', pid }, b!, c!],
    served,
  };
  // Every daemon must have seen the waypoint become ready before a request is sure to go through it.
  await eventually(async () => {
    const before = await served();
    await untilServing(path, 'ambit waypoint', 5_000);
    return (await served()) > before;
  }, 30_000).catch(() => {
    throw new Error(`ambit waypoint: requests to ${path.url} never showed up in the waypoint's istio_requests_total`);
  });
  return path;
}

/** One wrk run through a path, with its proxies' CPU and peak RSS, checked to have gone where it should. */
async function measure(path: Path, opts: Options, rss: Rss): Promise<Sample> {
  const before = (await path.served?.()) ?? 0;
  const rssOf = new Map(path.procs.map((p) => [p.name, p.pid]));
  const { result, cpu } = await usageDuring(
    path.procs.map((p) => p.pid),
    () => peakRss(rssOf, rss.peak, () => runWrk(path.run, path.url, opts)),
  );
  if (path.served) {
    const seen = (await path.served()) - before;
    // The waypoint counts a request when it sends the response, so it can only have seen more than wrk got back.
    if (seen < 0.99 * result.requests) throw new Error(`the waypoint saw ${seen} requests while wrk completed ${result.requests}: traffic bypassed it`);
  }
  return sampleOf(path, result, cpu);
}

function sampleOf(path: Path, r: WrkResult, cpu: number[]): Sample {
  const per10k = (s: number): number => (s * 10_000) / r.requests;
  return {
    rps: r.requests / (r.durationUs / 1e6),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    errors: errorCount(r),
    errorKinds: errorKinds(r),
    cpuPer10k: path.procs.length > 0 ? per10k(cpu.reduce((a, b) => a + b, 0)) : NaN,
    cpuSplit: Object.fromEntries(path.procs.map((p, i) => [p.name, per10k(cpu[i]!)])),
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  requireNetns();
  if (!haveWrk()) usage(`${WRK_HINT}; it is the load generator of every path`);
  const command = `npm run bench:waypoint --${process.argv
    .slice(2)
    .map((a) => ` ${a}`)
    .join('')}`;
  const loadBefore = loadAverage();
  const dir = await mkdtemp(join(tmpdir(), 'ambit-bench-waypoint-'));
  const { mesh, paths, notes } = await setUp(opts, dir);
  const samples = new Map<PathName, Sample[]>();
  const rss: Rss = { idle: {}, peak: {} };
  await onMesh(mesh, dir, async () => {
    for (const [name, pid] of processesOf(paths)) rss.idle[name] = (await vmRssKb(pid)) ?? 0;
    // JIT, TLS sessions and connection pools warm up outside the measured rounds.
    for (const path of paths) await runWrk(path.run, path.url, { seconds: WARMUP_SECONDS, concurrency: opts.concurrency });
    for (let round = 1; round <= opts.rounds; round++) {
      for (const path of paths) {
        const s = await measure(path, opts, rss);
        const split = Object.entries(s.cpuSplit)
          .map(([n, v]) => `${n} ${v.toFixed(2)}`)
          .join(', ');
        console.error(
          `round ${round} ${path.name}: ${s.rps.toFixed(0)} req/s, p50/p99 ${s.p50Ms.toFixed(2)}/${s.p99Ms.toFixed(2)} ms, ${s.errors} errors${s.errors ? ` (${s.errorKinds})` : ''}${split ? `; proxy CPU s per 10k requests: ${split}` : ''}`,
        );
        samples.set(path.name, [...(samples.get(path.name) ?? []), s]);
      }
    }
  });
  await publish(
    SECTION,
    {
      loadBefore,
      command,
      source: 'bench/waypoint.ts',
      description: `Netns hosts on one bridge: a = client, b = origin (Node \`http\` server, one process, a ${ORIGIN_BODY.length}-byte body), c = proxy host (haproxy, and the waypoint). Load: wrk, 1 thread, ${opts.concurrency} keep-alive HTTP/1.1 connections, GET /, ${opts.seconds} s per measurement after a ${WARMUP_SECONDS} s warm-up per path; ${opts.rounds} rounds, paths interleaved. direct: a → b. haproxy: a → haproxy on c (HTTP mode, 1 thread, keep-alive both ways, no logging${notes.length ? `; ${notes.join(', ')}` : ''}) → b. haproxy mTLS: the waypoint path hop for hop with three haproxies, a (TCP mode, plaintext in, mutual TLS out) → c (HTTP mode, mutual TLS in and out) → b (TCP mode, mutual TLS in, plaintext out), P-256 certificates from one CA. ambit L4: wrk runs as an enrolled uid and dials ${fqdn(SERVICE)} (its VIP); ambitd a captures it and tunnels it over HBONE (mTLS HTTP/2 CONNECT) to ambitd b. ambit waypoint: the same for ${fqdn(WAYPOINT_SERVICE)}, which has \`ambit waypoint attach --node c\` and a VirtualService (one prefix-match route): ambitd a → HBONE → ambit-waypoint on c (parses HTTP, routes, access log at info, Istio metrics) → HBONE → ambitd b → origin; the bench checks the waypoint's istio_requests_total grew by at least wrk's count. Proxy CPU is utime+stime from /proc of the processes named below, over each measurement.`,
      table: table(samples, rss),
      after: `Per round: ${noise(samples)}.`,
    },
    opts.write,
  );
  process.exit(0);
}

await main();
