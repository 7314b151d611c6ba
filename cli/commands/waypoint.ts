/**
 * `ambit waypoint attach|detach|list`: put an L7 proxy in front of a service.
 * Attaching registers the waypoint (core/store/waypoints.ts) on a node; that
 * node's daemon starts `ambit-waypoint` and marks it ready, and from then on
 * every daemon sends the service's VIP traffic through it. Detaching removes the
 * record: daemons go back to direct tunnels at once, and the waypoint drains
 * before it stops.
 */
import type { Command } from 'commander';
import { AmbitError, NotFoundError, UsageError } from '../../core/errors.js';
import type { Store } from '../../core/store/index.js';
import {
  WAYPOINT_FIRST_METRICS_PORT,
  WAYPOINT_FIRST_PORT,
  waypointEndpoint,
  waypointOf,
  waypointServiceName,
  type WaypointInfo,
} from '../../core/store/waypoints.js';
import { parseDurationSeconds } from '../duration.js';
import { listOf, outputFormat, outputOption, renderData, renderTable } from '../output.js';
import { withStore } from '../store-client.js';
import { parsePort } from '../port.js';
import { operatorFor, writers } from '../signed-writes.js';
import { nodeOrThisHost, THIS_NODE_HELP } from '../this-node.js';
import { didYouMean } from '../../core/config/suggest.js';

interface AttachOptions {
  namespace: string;
  node?: string;
  port?: string;
  metricsPort?: string;
  wait: boolean;
  timeout: string;
}

const POLL_MS = 250;

export function registerWaypoint(program: Command): void {
  const waypoint = program.command('waypoint').description('attach L7 waypoint proxies to services (routing, resilience, L7 policy)');

  waypoint
    .command('attach')
    .description("run a waypoint for a service on a node; the service's traffic then goes through it")
    .argument('<service>', 'enrolled service name, e.g. reviews')
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--node <name>', `node to run the waypoint on, its ambitd starts it (${THIS_NODE_HELP})`)
    .option('--port <port>', `HBONE port on that node (default: first free from ${WAYPOINT_FIRST_PORT})`)
    .option('--metrics-port <port>', `Prometheus port on that node's 127.0.0.1 (default: first free from ${WAYPOINT_FIRST_METRICS_PORT})`)
    .option('--no-wait', 'return once registered, without waiting for the waypoint to be ready')
    .option('--timeout <duration>', 'how long to wait for it to be ready', '30s')
    .action(async (service: string, opts: AttachOptions, cmd: Command) => {
      const timeoutMs = parseDurationSeconds(opts.timeout, '--timeout') * 1000;
      const target = await nodeOrThisHost(opts.node);
      const w = await withStore(cmd, async (store) => {
        const planned = await planAttach(store, service, opts.namespace, target.name, opts);
        if (planned.action !== 'unchanged') {
          // A waypoint is an enrollment (it gets an identity), so it is signed like one.
          const operator = await operatorFor(cmd, store);
          const ep = waypointEndpoint(planned.waypoint);
          await (operator ? (await writers()).signedEnroll(store, operator, ep) : store.enroll(ep));
        }
        if (!opts.wait || planned.waypoint.state === 'ready') return planned.waypoint;
        process.stderr.write(`waiting for node ${target.name} to start the waypoint for ${opts.namespace}/${service}...\n`);
        return waitReady(store, planned.waypoint, timeoutMs);
      });
      process.stdout.write(
        `waypoint for ${w.namespace}/${w.service} ${w.state} on node ${w.node} at ${w.address}:${w.port}, identity ns/${w.namespace}/sa/${waypointServiceName(w.service)}, metrics 127.0.0.1:${w.metricsPort}\n`,
      );
    });

  waypoint
    .command('detach')
    .description("remove a service's waypoint; traffic goes back to direct tunnels, the waypoint drains and stops")
    .argument('<service>', 'service name')
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--node <name>', "only the waypoint on this node (default: all of the service's waypoints)")
    .action(async (service: string, opts: { namespace: string; node?: string }, cmd: Command) => {
      const filter = opts.node ? { node: opts.node } : {};
      const { removed } = await withStore(cmd, async (store) => {
        const operator = await operatorFor(cmd, store);
        const name = waypointServiceName(service);
        const done = operator ? (await writers()).signedUnenroll(store, operator, opts.namespace, name, filter) : store.unenroll(opts.namespace, name, filter);
        return done.catch((err: unknown) => {
          if (err instanceof NotFoundError)
            throw new NotFoundError(`waypoint for ${opts.namespace}/${service}${opts.node ? ` on node ${opts.node}` : ''} (see ambit waypoint list)`, {
              service,
            });
          throw err;
        });
      });
      process.stdout.write(`waypoint for ${opts.namespace}/${service} detached (${removed} instance${removed === 1 ? '' : 's'})\n`);
    });

  waypoint
    .command('list')
    .description('show attached waypoints')
    .option('-n, --namespace <ns>', 'only this namespace')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { namespace?: string; output: string }, cmd: Command) => {
      const format = outputFormat(opts.output);
      const all = await withStore(cmd, (store) => listWaypoints(store, opts.namespace));
      if (format !== 'table') return void process.stdout.write(await renderData(listOf(all), format));
      if (all.length === 0) return void process.stdout.write('No waypoints attached.\n');
      process.stdout.write(
        renderTable(
          ['NAMESPACE', 'SERVICE', 'NODE', 'ADDRESS', 'IDENTITY', 'STATE', 'METRICS'],
          all.map((w) => [w.namespace, w.service, w.node, `${w.address}:${w.port}`, `sa/${w.serviceAccount}`, w.state, `127.0.0.1:${w.metricsPort}`]),
        ),
      );
    });
}

export async function listWaypoints(store: Store, namespace?: string): Promise<WaypointInfo[]> {
  const endpoints = await store.listEndpoints(namespace ? { namespace } : {});
  return endpoints.map(waypointOf).filter((w): w is WaypointInfo => w !== undefined);
}

/** The waypoint record to write, checked against the registry: the service and node must exist, ports must be free. */
async function planAttach(
  store: Store,
  service: string,
  ns: string,
  nodeName: string,
  opts: Pick<AttachOptions, 'port' | 'metricsPort'>,
): Promise<{ waypoint: WaypointInfo; action: 'create' | 'unchanged' }> {
  if (!(await store.getService(ns, service))) {
    throw new NotFoundError(`service ${ns}/${service} (enroll it first: ambit enroll ${service} -n ${ns} --port <port> …)`, { service });
  }
  const node = await store.getNode(nodeName);
  if (!node) {
    const live = (await store.listNodes()).map((n) => n.name);
    const known = live.length ? `nodes with a heartbeat: ${live.join(', ')}` : 'no node sends heartbeats';
    throw new NotFoundError(
      `node ${nodeName}${didYouMean(nodeName, live)} (no ambitd heartbeat from it, ${known}: start ambitd there, or pass --node; see ambit node list)`,
      {
        node: nodeName,
      },
    );
  }
  const onNode = (await listWaypoints(store)).filter((w) => w.node === node.name);
  const existing = onNode.find((w) => w.namespace === ns && w.service === service);
  const port = opts.port ? parsePort(opts.port) : undefined;
  const metricsPort = opts.metricsPort ? parsePort(opts.metricsPort) : undefined;
  if (existing && (port ?? existing.port) === existing.port && (metricsPort ?? existing.metricsPort) === existing.metricsPort) {
    return { waypoint: existing, action: 'unchanged' };
  }
  if (existing) throw new UsageError(`a waypoint for ${ns}/${service} already runs on node ${node.name} (port ${existing.port}); detach it first to move it`);
  const others = onNode;
  const taken = (p: number) => others.some((w) => w.port === p || w.metricsPort === p) || p === node.hbonePort;
  const pick = (given: number | undefined, first: number, what: string): number => {
    if (given !== undefined) {
      if (taken(given)) throw new UsageError(`${what} ${given} on node ${node.name} is taken by another waypoint or ambitd; choose another`);
      return given;
    }
    let p = first;
    while (taken(p)) p++;
    return p;
  };
  const hbone = pick(port, WAYPOINT_FIRST_PORT, '--port');
  const metrics = pick(metricsPort, WAYPOINT_FIRST_METRICS_PORT, '--metrics-port');
  if (hbone === metrics) throw new UsageError(`--port and --metrics-port are both ${hbone}; choose two ports`);
  return {
    waypoint: {
      namespace: ns,
      service,
      node: node.name,
      address: node.address,
      port: hbone,
      metricsPort: metrics,
      state: 'starting',
      serviceAccount: waypointServiceName(service),
    },
    action: 'create',
  };
}

async function waitReady(store: Store, w: WaypointInfo, timeoutMs: number): Promise<WaypointInfo> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = (await listWaypoints(store, w.namespace)).find((x) => x.service === w.service && x.node === w.node);
    if (!now) throw new NotFoundError(`waypoint for ${w.namespace}/${w.service} on node ${w.node}: it was detached while starting`, { service: w.service });
    if (now.state === 'ready') return now;
    if (Date.now() >= until) {
      throw new AmbitError(
        'EWAYPOINT_NOT_READY',
        `the waypoint for ${w.namespace}/${w.service} is registered but node ${w.node} has not reported it ready after ${Math.round(timeoutMs / 1000)}s: check ambitd's log on ${w.node} (journalctl -u ambitd) and \`ambit doctor\` there`,
        { service: w.service, node: w.node },
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
