/**
 * `ambit tap SERVICE`: what the mesh sees of a service, as it happens,
 * bounded by --max and --duration. With a waypoint: each request it finishes
 * (time, caller identity, method, authority, path, status, latency, route,
 * upstream cluster, response flags), filtered by --path/--method/--status in
 * the waypoint. Without one: each connection this node's ambitd delivers to
 * the service's endpoints here, or refuses (caller identity, bytes, duration,
 * authorization decision), filtered by --authz. Both taps listen on their
 * node's loopback, so this runs on the waypoint's (or endpoint's) node; the
 * store says which. `-o json` prints one JSON record per line.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { AccessLogEntry } from '../../core/telemetry/access-log-entry.js';
import type { ConnectionRecord } from '../../core/telemetry/connection-record.js';
import type { EndpointRecord } from '../../core/store/types.js';
import { waypointOf, type WaypointInfo } from '../../core/store/waypoints.js';
import { parseDurationSeconds } from '../duration.js';
import { outputFormat, outputOption } from '../output.js';
import { parsePort } from '../port.js';
import { withStore } from '../store-client.js';
import { nodeOrThisHost, THIS_NODE_HELP } from '../this-node.js';
import { MonitorError } from '../stat/errors.js';
import type { TapTarget } from '../tap/stream.js';

interface TapOptions {
  namespace: string;
  path?: string;
  method?: string;
  status?: string;
  authz?: string;
  max: string;
  duration: string;
  node?: string;
  adminPort: string;
  domain: string;
  output: string;
}

export function registerTap(program: Command): void {
  program
    .command('tap')
    .description("stream what a service's waypoint (requests) or, without one, this node's ambitd (connections) sees of it, as it happens")
    .argument('<service>', 'the service (name or ns/name)')
    .option('-n, --namespace <ns>', 'namespace of SERVICE', 'default')
    .option('--path <prefix>', 'with a waypoint: only requests whose path starts with this')
    .option('--method <method>', 'with a waypoint: only requests with this method')
    .option('--status <code>', 'with a waypoint: only requests answered with this status (404) or class (5xx)')
    .option('--authz <decision>', 'without a waypoint: only connections allowed (allow) or refused (deny)')
    .option('--max <n>', 'stop after this many records', '100')
    .option('--duration <duration>', 'stop after this long', '1m')
    .option('--node <name>', `the node this command runs on (${THIS_NODE_HELP})`)
    .option('--admin-port <port>', "without a waypoint: ambitd's admin port on this host (ambitd.yaml ports.admin)", '15000')
    .option('--domain <domain>', 'mesh DNS domain', 'cluster.local')
    .addOption(outputOption(['table', 'json']))
    .action(async (service: string, opts: TapOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      const max = Number(opts.max);
      if (!Number.isInteger(max) || max < 1 || max > 100_000) throw new UsageError(`--max ${JSON.stringify(opts.max)}: a whole number from 1 to 100000`);
      const durationMs = parseDurationSeconds(opts.duration, '--duration') * 1000;
      const adminPort = parsePort(opts.adminPort);
      if (opts.status !== undefined && !/^([1-5]xx|[0-9]{3})$/i.test(opts.status)) {
        throw new UsageError(`--status ${JSON.stringify(opts.status)}: a status code (404) or a class (5xx)`);
      }
      if (opts.path !== undefined && !opts.path.startsWith('/')) throw new UsageError(`--path ${JSON.stringify(opts.path)}: a path starts with /`);
      if (opts.authz !== undefined && opts.authz !== 'allow' && opts.authz !== 'deny')
        throw new UsageError(`--authz ${JSON.stringify(opts.authz)}: allow or deny`);
      const [namespace, name] = service.includes('/') ? (service.split('/', 2) as [string, string]) : [opts.namespace, service];
      const here = await nodeOrThisHost(opts.node);
      const endpoints = await withStore(cmd, (store) => store.listEndpoints());
      const fqdn = `${name}.${namespace}.svc.${opts.domain}`;
      const target = tapTarget(endpoints, { namespace, name, fqdn, node: here.name, adminPort, opts, max });
      const [{ readTap }, { renderRequestLine, renderConnectionLine }] = await Promise.all([import('../tap/stream.js'), import('../tap/render.js')]);
      const stop = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      let seen = 0;
      await readTap<AccessLogEntry | ConnectionRecord>(
        target.target,
        durationMs,
        (e) => {
          if ('dropped' in e) return void process.stderr.write(`warning: ${e.dropped} records went by that this tap could not keep up with\n`);
          seen++;
          const line =
            format === 'json'
              ? JSON.stringify(e.request)
              : target.kind === 'requests'
                ? renderRequestLine(e.request as AccessLogEntry)
                : renderConnectionLine(e.request as ConnectionRecord);
          process.stdout.write(`${line}\n`);
        },
        stop,
      );
      if (seen === 0 && format === 'table') process.stderr.write(`No matching ${target.kind} for ${namespace}/${name} went by.\n`);
    });
}

interface Wanted {
  namespace: string;
  name: string;
  fqdn: string;
  node: string;
  adminPort: number;
  opts: TapOptions;
  max: number;
}

/** The service's waypoint on this node, else (no waypoint) this node's ambitd for its endpoints here. */
function tapTarget(endpoints: readonly EndpointRecord[], w: Wanted): { kind: 'requests' | 'connections'; target: TapTarget } {
  const { namespace, name, node, opts } = w;
  const query: Record<string, string> = { service: w.fqdn, max: String(w.max) };
  const waypoints = endpoints.map(waypointOf).filter((x): x is WaypointInfo => x !== undefined && x.namespace === namespace && x.service === name);
  if (waypoints.length > 0) {
    if (opts.authz !== undefined)
      throw new UsageError(`--authz is for a service without a waypoint; ${namespace}/${name}'s waypoint reports requests (a denial is a 403)`);
    const local = waypoints.find((x) => x.node === node);
    if (!local)
      throw notHere(
        `the waypoint for ${namespace}/${name}`,
        waypoints.map((x) => x.node),
        node,
      );
    if (opts.path !== undefined) query.path = opts.path;
    if (opts.method !== undefined) query.method = opts.method.toUpperCase();
    if (opts.status !== undefined) query.status = opts.status.toLowerCase();
    return { kind: 'requests', target: { port: local.metricsPort, describe: `the waypoint for ${namespace}/${name} on node ${node}`, query } };
  }
  const given = (['path', 'method', 'status'] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 0) {
    throw new UsageError(
      `--${given.join(', --')}: ${namespace}/${name} has no waypoint, so only its connections can be tapped (L4); attach one for requests: \`ambit waypoint attach ${name} -n ${namespace}\``,
    );
  }
  const mine = endpoints.filter((ep) => ep.namespace === namespace && ep.service === name);
  if (mine.length === 0)
    throw new UsageError(`${namespace}/${name} has no enrolled endpoints and no waypoint: nothing to tap (\`ambit get endpoints\` lists them)`);
  if (!mine.some((ep) => ep.node === node))
    throw notHere(
      `ambitd serving ${namespace}/${name}`,
      mine.map((ep) => ep.node),
      node,
    );
  if (opts.authz !== undefined) query.authz = opts.authz;
  return { kind: 'connections', target: { port: w.adminPort, describe: `ambitd on node ${node}`, query } };
}

function notHere(what: string, nodes: string[], node: string): MonitorError {
  const on = [...new Set(nodes)].join(', ');
  return new MonitorError(
    'ETAP_UNREACHABLE',
    `${what} runs on node ${on}, not on this host (node ${node}): its tap listens on that node's loopback, so run ambit tap there`,
    {
      nodes: [...new Set(nodes)],
    },
  );
}
