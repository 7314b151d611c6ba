/**
 * `ambit tap SERVICE`: the requests the service's waypoint finishes, as they
 * happen (time, caller identity, method, authority, path, status, latency,
 * route, upstream cluster, response flags), filtered by --path/--method/--status
 * in the waypoint, bounded by --max and --duration. The waypoint is found
 * through the store; its tap listens on its node's loopback, so this runs on
 * that node. `-o json` prints one JSON record per line.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { waypointOf, type WaypointInfo } from '../../core/store/waypoints.js';
import { parseDurationSeconds } from '../duration.js';
import { outputFormat, outputOption } from '../output.js';
import { withStore } from '../store-client.js';
import { nodeOrThisHost, THIS_NODE_HELP } from '../this-node.js';
import { MonitorError } from '../stat/errors.js';

interface TapOptions {
  namespace: string;
  path?: string;
  method?: string;
  status?: string;
  max: string;
  duration: string;
  node?: string;
  domain: string;
  output: string;
}

export function registerTap(program: Command): void {
  program
    .command('tap')
    .description("stream the requests a service's waypoint sees, as they happen (bounded by --max and --duration)")
    .argument('<service>', 'the service (name or ns/name) whose waypoint to tap')
    .option('-n, --namespace <ns>', 'namespace of SERVICE', 'default')
    .option('--path <prefix>', 'only requests whose path starts with this')
    .option('--method <method>', 'only requests with this method')
    .option('--status <code>', 'only requests answered with this status (404) or class (5xx)')
    .option('--max <n>', 'stop after this many requests', '100')
    .option('--duration <duration>', 'stop after this long', '1m')
    .option('--node <name>', `the node this command runs on (${THIS_NODE_HELP})`)
    .option('--domain <domain>', 'mesh DNS domain', 'cluster.local')
    .addOption(outputOption(['table', 'json']))
    .action(async (service: string, opts: TapOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      const max = Number(opts.max);
      if (!Number.isInteger(max) || max < 1 || max > 100_000) throw new UsageError(`--max ${JSON.stringify(opts.max)}: a whole number from 1 to 100000`);
      const durationMs = parseDurationSeconds(opts.duration, '--duration') * 1000;
      if (opts.status !== undefined && !/^([1-5]xx|[0-9]{3})$/i.test(opts.status)) {
        throw new UsageError(`--status ${JSON.stringify(opts.status)}: a status code (404) or a class (5xx)`);
      }
      if (opts.path !== undefined && !opts.path.startsWith('/')) throw new UsageError(`--path ${JSON.stringify(opts.path)}: a path starts with /`);
      const [namespace, name] = service.includes('/') ? (service.split('/', 2) as [string, string]) : [opts.namespace, service];
      const here = await nodeOrThisHost(opts.node);
      const endpoints = await withStore(cmd, (store) => store.listEndpoints());
      const waypoint = findWaypoint(endpoints.map(waypointOf), namespace, name, here.name);
      const query: Record<string, string> = { service: `${name}.${namespace}.svc.${opts.domain}`, max: String(max) };
      if (opts.path !== undefined) query.path = opts.path;
      if (opts.method !== undefined) query.method = opts.method.toUpperCase();
      if (opts.status !== undefined) query.status = opts.status.toLowerCase();
      const { readTap, renderTapLine } = await import('../tap/stream.js');
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      let seen = 0;
      await readTap(
        { port: waypoint.metricsPort, describe: `the waypoint for ${namespace}/${name} on node ${waypoint.node}`, query },
        durationMs,
        (e) => {
          if ('dropped' in e) return void process.stderr.write(`warning: the waypoint dropped ${e.dropped} requests this tap could not keep up with\n`);
          seen++;
          process.stdout.write(format === 'json' ? `${JSON.stringify(e.request)}\n` : `${renderTapLine(e.request)}\n`);
        },
        stop,
      );
      if (seen === 0 && format === 'table') process.stderr.write(`No matching requests through the waypoint for ${namespace}/${name}.\n`);
    });
}

function findWaypoint(all: (WaypointInfo | undefined)[], namespace: string, name: string, node: string): WaypointInfo {
  const mine = all.filter((w): w is WaypointInfo => w !== undefined && w.namespace === namespace && w.service === name);
  if (mine.length === 0) {
    throw new UsageError(
      `${namespace}/${name} has no waypoint: ambit tap shows the requests a waypoint sees; attach one with \`ambit waypoint attach ${name} -n ${namespace}\``,
    );
  }
  const local = mine.find((w) => w.node === node);
  if (!local) {
    throw new MonitorError(
      'ETAP_UNREACHABLE',
      `the waypoint for ${namespace}/${name} runs on node ${mine.map((w) => w.node).join(', ')}, not on this host (node ${node}): its tap listens on that node's loopback, so run ambit tap there`,
      { nodes: mine.map((w) => w.node) },
    );
  }
  return local;
}
