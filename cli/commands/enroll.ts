import type { Command } from 'commander';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { EndpointRecord } from '../../core/store/types.js';
import { UsageError } from '../../core/errors.js';
import { withStore } from '../store-client.js';
import { resolveUser } from '../unix-user.js';
import { collect } from './apply.js';
import { operatorFor, writers } from '../signed-writes.js';

interface EnrollOptions {
  port: string;
  address?: string;
  user?: string;
  namespace: string;
  serviceAccount?: string;
  label: string[];
  node: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function registerEnroll(program: Command): void {
  program
    .command('enroll')
    .description('add a service running on this host to the mesh')
    .argument('<service>', 'service name (a DNS label, e.g. reviews)')
    .requiredOption('-p, --port <port>', 'port the service listens on')
    .option('-a, --address <ip>', "address the service listens on (default: the node's address)")
    .option('-u, --user <user>', 'Unix user (or uid) the service runs as: its outbound traffic is captured and carries its identity')
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--service-account <sa>', 'identity: spiffe://<td>/ns/<ns>/sa/<sa> (default: the service name)')
    .option('-l, --label <k=v>', 'endpoint label, e.g. version=v1 (repeatable)', collect, [])
    .option('--node <name>', 'node the service runs on', hostname())
    .action(async (service: string, opts: EnrollOptions, cmd: Command) => {
      const endpoint = await withStore(cmd, async (store) => {
        const node = await store.getNode(opts.node);
        const ep = endpointFrom(service, opts, node?.address);
        const operator = await operatorFor(cmd, store);
        await (operator ? (await writers()).signedEnroll(store, operator, ep) : store.enroll(ep));
        return ep;
      });
      const who = endpoint.uid !== undefined ? `, user ${endpoint.user} (uid ${endpoint.uid})` : '';
      process.stdout.write(
        `enrolled ${endpoint.namespace}/${endpoint.service} at ${endpoint.address}:${endpoint.port} on node ${endpoint.node} as sa ${endpoint.serviceAccount}${who}\n`,
      );
    });

  program
    .command('unenroll')
    .description('remove a service (or one of its endpoints) from the mesh')
    .argument('<service>', 'service name')
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--node <name>', 'only the endpoints on this node')
    .option('-p, --port <port>', 'only the endpoint on this port')
    .action(async (service: string, opts: { namespace: string; node?: string; port?: string }, cmd: Command) => {
      const filter = { ...(opts.node ? { node: opts.node } : {}), ...(opts.port ? { port: parsePort(opts.port) } : {}) };
      const { removed } = await withStore(cmd, async (store) => {
        const operator = await operatorFor(cmd, store);
        return operator ? (await writers()).signedUnenroll(store, operator, opts.namespace, service, filter) : store.unenroll(opts.namespace, service, filter);
      });
      process.stdout.write(`unenrolled ${opts.namespace}/${service} (${removed} endpoint${removed === 1 ? '' : 's'})\n`);
    });
}

export function endpointFrom(service: string, opts: EnrollOptions, nodeAddress: string | undefined): EndpointRecord {
  if (!DNS_LABEL.test(service)) throw new UsageError(`service name ${JSON.stringify(service)} must be a DNS label (lowercase letters, digits, '-')`);
  if (!DNS_LABEL.test(opts.namespace)) throw new UsageError(`--namespace ${JSON.stringify(opts.namespace)} must be a DNS label`);
  const serviceAccount = opts.serviceAccount ?? service;
  if (!DNS_LABEL.test(serviceAccount)) throw new UsageError(`--service-account ${JSON.stringify(serviceAccount)} must be a DNS label`);
  const address = opts.address ?? nodeAddress ?? hostAddress();
  if (!isIP(address)) throw new UsageError(`--address ${JSON.stringify(address)} is not an IP address`);
  const labels: Record<string, string> = {};
  for (const pair of opts.label) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]{0,252})=([-A-Za-z0-9_.]{0,63})$/.exec(pair);
    if (!m) throw new UsageError(`--label ${JSON.stringify(pair)}: expected key=value`);
    labels[m[1]!] = m[2]!;
  }
  return {
    service,
    namespace: opts.namespace,
    node: opts.node,
    address,
    port: parsePort(opts.port),
    serviceAccount,
    labels,
    ...(opts.user ? resolveUser(opts.user) : {}),
  };
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`port ${JSON.stringify(value)} must be a number from 1 to 65535`);
  return port;
}

/** The first non-loopback IPv4 address: where peers most likely reach this host. */
function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
