/**
 * What tracing costs the waypoint (issue 14): CPU per request of the same
 * waypoint with tracing off, at 1 % and at 100 % sampling, in one run, as
 * ratios to "off". Each mode is its own waypoint process (bench/tracing/
 * waypoint-child.ts) so its CPU is its own; the client, the peer daemon, the
 * endpoint and one OTLP/HTTP sink per mode run in this process, on loopback.
 *
 *   npm run bench:tracing [-- --rounds 5 --requests 3000 --concurrency 8 --no-write]
 *
 * Rounds interleave the modes so load from other jobs on a shared host hits
 * them alike; the table shows the median round and the best.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HboneClient, HboneServer } from '../core/hbone/index.js';
import { nodeId } from '../core/identity/index.js';
import { logger } from '../core/logging.js';
import type { TracingSettings } from '../core/telemetry/settings.js';
import { writePropagationHeaders } from '../core/telemetry/tracing/propagation.js';
import { MeshTracer } from '../core/telemetry/tracing/tracer.js';
import { makeTestCa, workload } from '../test/helpers/test-pki.js';
import { many, TunnelAgent } from '../test/helpers/waypoint-harness.js';
import { loadAverage, publish } from './results-file.js';
import { best, fmt, median, spread } from './rounds.js';
import type { ChildConfig } from './tracing/waypoint-child.js';

const CHILD = fileURLToPath(new URL('./tracing/waypoint-child.js', import.meta.url));
const MODES = [
  { name: 'off', percentage: undefined },
  { name: '1 %', percentage: 1 },
  { name: '100 %', percentage: 100 },
] as const;
const VIP = '240.240.0.10';
const CALLER = workload('default', 'bench-client');
const WAYPOINT = workload('default', 'bench-waypoint');
const log = logger('bench-tracing');
/** Iterations of tracerAlone per round. */
const ALONE_REQUESTS = 20_000;

interface Options {
  rounds: number;
  requests: number;
  concurrency: number;
  write: boolean;
}

function parseArgs(argv: string[]): Options {
  const count = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    const n = i === -1 ? fallback : Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`bench:tracing: --${name} ${argv[i + 1]}: expected a whole number of at least 1`);
      process.exit(2);
    }
    return n;
  };
  return { rounds: count('rounds', 5), requests: count('requests', 3000), concurrency: count('concurrency', 8), write: !argv.includes('--no-write') };
}

async function listen(server: Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** An OTLP/HTTP endpoint that takes every export and counts what it got. */
async function sink(): Promise<{ endpoint: string; exports: () => number; bytes: () => number; close: () => void }> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const port = await listen(server, '127.0.0.1');
  return { endpoint: `http://127.0.0.1:${port}/v1/traces`, exports: () => exports, bytes: () => bytes, close: () => server.close() };
}

interface Mode {
  name: string;
  cpuMicros: () => Promise<number>;
  agent: TunnelAgent;
  sink: Awaited<ReturnType<typeof sink>>;
  stop: () => void;
}

const tracingFor = (percentage: number | undefined, endpoint: string): TracingSettings =>
  percentage === undefined
    ? { providers: [], samplingPercentage: 1, customTags: {} }
    : {
        providers: [{ name: 'otel', kind: 'opentelemetry', endpoint, encoding: 'protobuf', timeoutMs: 5000, headers: {} }],
        samplingPercentage: percentage,
        customTags: {},
      };

/**
 * The tracing calls one request with one try makes (the SERVER span, a CLIENT
 * span and its headers, both ended, then the export), in this process
 * without any networking around them: CPU µs per request of the tracing
 * code alone, far less noisy on a shared host than the waypoint's total.
 */
async function tracerAlone(percentage: number | undefined, endpoint: string, n: number): Promise<number> {
  const tracer = new MeshTracer({
    serviceName: 'ambit-waypoint',
    settings: tracingFor(percentage, endpoint),
    metrics: { spansDropped: { inc: () => undefined } },
    log,
  });
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const headers: Record<string, string> = { host: 'bench:9080', 'user-agent': 'bench', 'x-request-id': String(i) };
    const server = tracer.startServer({
      name: 'bench.default.svc.cluster.local:9080/*',
      headers,
      attributes: () => ({ 'http.request.method': 'GET', 'url.path': '/' }),
    });
    if (server) {
      const c = server.startClient('router bench egress', () => ({ 'http.request.method': 'GET', 'server.port': 9080 }));
      writePropagationHeaders(headers, c.headers);
      c.end({ 'http.response.status_code': 200 }, undefined);
      server.end(() => ({ 'http.response.status_code': 200 }), undefined);
    }
    // Let the batch processor's timer and the exporter run, as they would between requests.
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(tracer.exports.map((e) => e.forceFlush()));
  const used = process.cpuUsage(before);
  await tracer.shutdown();
  return (used.user + used.system) / n;
}

async function startMode(
  name: string,
  percentage: number | undefined,
  base: Omit<ChildConfig, 'tracing'>,
  dial: (port: number) => TunnelAgent,
  dir: string,
): Promise<Mode> {
  const s = await sink();
  const tracing = tracingFor(percentage, s.endpoint);
  const file = join(dir, `${name.replace(/\W/g, '')}.json`);
  writeFileSync(file, JSON.stringify({ ...base, tracing }));
  const child = fork(CHILD, [file], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, AMBIT_LOG_LEVEL: 'warn' } });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { port } = JSON.parse(line) as { port: number };
  const cpuMicros = async (): Promise<number> => {
    child.send('cpu');
    const [msg] = (await once(child, 'message')) as [{ cpu: NodeJS.CpuUsage }];
    return msg.cpu.user + msg.cpu.system;
  };
  return { name, cpuMicros, agent: dial(port), sink: s, stop: () => (child.kill('SIGTERM'), s.close()) };
}

function get(agent: TunnelAgent, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: VIP, port, path: '/', headers: { host: `bench:${port}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const loadBefore = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'ambit-bench-tracing-'));
  const pki = await makeTestCa();
  const endpoint = createServer((_req, res) => res.end('ok'));
  const epPort = await listen(endpoint, '127.0.1.1');
  const peer = new HboneServer({
    log,
    identity: await pki.issue(nodeId('cluster.local', 'node-b').uri),
    resolveUpstream: ({ destination }) => ({ host: destination.host, port: destination.port }),
  });
  const peerPort = (await peer.listen(0, '127.0.0.1')).port;
  const base = { tls: await pki.issue(WAYPOINT), principal: WAYPOINT, peerPort, endpoint: { address: '127.0.1.1', port: epPort }, vip: VIP };
  const callerTls = await pki.issue(CALLER);
  const client = new HboneClient({ getSecureContext: () => callerTls, maxStreamsPerSession: 1000 });
  const dial = (wpPort: number) =>
    new TunnelAgent(
      () => client.connect({ peer: { host: '127.0.0.1', port: wpPort }, authority: `${VIP}:${epPort}`, source: CALLER, expectedServerIdentity: WAYPOINT }),
      true,
    );
  const modes: Mode[] = [];
  for (const m of MODES) modes.push(await startMode(m.name, m.percentage, base, dial, dir));
  const perRequest = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  const alone = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
  /** What the waypoints' exports carried, read before tracerAlone exports to the same sinks. */
  const exported = new Map<string, number>();
  let failures = 0;
  const load = async (m: Mode, n: number): Promise<void> => {
    const statuses = await many(n, opts.concurrency, () => get(m.agent, epPort));
    failures += statuses.filter((s) => s !== 200).length;
  };
  try {
    // A whole round per mode first: the rounds after it no longer get faster as the JIT warms up.
    for (const m of modes) await load(m, opts.requests);
    for (let round = 0; round < opts.rounds; round++) {
      // Each round starts with a different mode, so none always runs first.
      for (let k = 0; k < modes.length; k++) {
        const m = modes[(round + k) % modes.length]!;
        const before = await m.cpuMicros();
        await load(m, opts.requests);
        perRequest.get(m.name)!.push(((await m.cpuMicros()) - before) / opts.requests);
      }
    }
    // Give the last batches time to leave (the exporters' delay is 200 ms) before counting what the sinks got.
    await new Promise((r) => setTimeout(r, 500));
    for (const m of modes) exported.set(m.name, m.sink.bytes());
    for (let round = 0; round < opts.rounds; round++) {
      for (const [i, m] of MODES.entries()) alone.get(m.name)!.push(await tracerAlone(m.percentage, modes[i]!.sink.endpoint, ALONE_REQUESTS));
    }
  } finally {
    for (const m of modes) m.stop();
    client.close();
    await peer.close(100);
    endpoint.close();
  }
  const off = median(perRequest.get('off')!);
  const total = opts.requests * (opts.rounds + 1);
  const rows = modes.map((m) => {
    const xs = perRequest.get(m.name)!;
    return `| ${m.name} | ${fmt(median(xs), 1)} | ${fmt(best(xs, false), 1)} | ${spread(xs)} | ${fmt(median(xs) / off, 2)}× | ${fmt((exported.get(m.name) ?? NaN) / total, 1)} |`;
  });
  const table = [
    '| tracing | waypoint CPU µs/request (median round) | best round | spread | vs off | OTLP bytes/request exported | tracing code alone, CPU µs/request (median) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r, i) => `${r} ${fmt(median(alone.get(MODES[i]!.name)!), 2)} |`),
  ].join('\n');
  if (failures > 0) console.error(`bench:tracing: ${failures} requests did not answer 200`);
  await publish(
    'Waypoint tracing overhead (bench/tracing)',
    {
      loadBefore,
      command: `node dist/bench/tracing.js ${process.argv.slice(2).join(' ')}`.trim(),
      source: 'bench/tracing.ts',
      description: `One waypoint process per mode (tracing off; one OTLP/HTTP protobuf provider at 1 % and at 100 % sampling), each behind the same peer daemon and endpoint on loopback, client and sinks in the bench process. ${opts.rounds} rounds × ${opts.requests} HTTP/1.1 keep-alive GETs at concurrency ${opts.concurrency} per mode, modes interleaved, after one unmeasured round each; CPU is the waypoint process's user + system time (process.cpuUsage) over the round. New traces only (no traceparent), so the ratio is what sampling decides. The last column is the tracing calls of one request with one try (SERVER span, CLIENT span and its headers, both ended, and their export to the same sink) run ${ALONE_REQUESTS} times in the bench process with nothing around them: the part of the waypoint's CPU that is tracing's, without the noise of a shared host.`,
      table,
      after: `Rounds, µs/request: ${modes
        .map(
          (m) =>
            `${m.name}: ${perRequest
              .get(m.name)!
              .map((x) => x.toFixed(1))
              .join(', ')}`,
        )
        .join('; ')}. Tracing code alone: ${MODES.map(
        (m) =>
          `${m.name}: ${alone
            .get(m.name)!
            .map((x) => x.toFixed(2))
            .join(', ')}`,
      ).join('; ')}. Failed requests: ${failures}.`,
    },
    opts.write,
  );
  process.exit(failures > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
