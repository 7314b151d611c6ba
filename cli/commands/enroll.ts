/**
 * `ambit enroll|unenroll`: put a service running on a node into the mesh, or
 * take it out. Both act on this host's node unless `--node` says otherwise
 * (cli/this-node.ts); enroll refuses a node the store does not know, and
 * re-enrolling an endpoint keeps what the flags do not change
 * (cli/enroll-request.ts). Once the mesh has a CA, both are signed by the
 * operator key.
 */
import type { Command } from 'commander';
import { AmbitError, NotFoundError, UsageError } from '../../core/errors.js';
import type { Store } from '../../core/store/index.js';
import { withStore } from '../store-client.js';
import { collect } from './apply.js';
import { operatorFor, writers } from '../signed-writes.js';
import { requireKnownNode } from '../known-nodes.js';
import { nodeOrThisHost, THIS_NODE_HELP } from '../this-node.js';
import { enrollmentOf, parseEnrollRequest, type EnrollFlags } from '../enroll-request.js';
import { parsePort } from '../port.js';

interface EnrollOptions extends EnrollFlags {
  node?: string;
  allowUnknownNode: boolean;
}

interface UnenrollOptions {
  namespace: string;
  node?: string;
  allNodes: boolean;
  port?: string;
}

export function registerEnroll(program: Command): void {
  program
    .command('enroll')
    .description('add a service running on this host to the mesh; enrolling an endpoint again updates it, keeping what the flags do not change')
    .argument('<service>', 'service name (a DNS label, e.g. reviews)')
    .requiredOption('-p, --port <port>', 'port the service listens on')
    .option('-a, --address <ip>', "address the service listens on (default: the endpoint's, else the node's address)")
    .option('-u, --user <user>', "Unix user (or uid) the service runs as: its outbound traffic is captured and carries its identity (default: the endpoint's)")
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--service-account <sa>', "identity: spiffe://<td>/ns/<ns>/sa/<sa> (default: the endpoint's, else the service name)")
    .option('-l, --label <k=v>', "endpoint label, e.g. version=v1 (repeatable; default: the endpoint's labels)", collect, [])
    .option('--node <name>', `node the service runs on (${THIS_NODE_HELP})`)
    .option('--allow-unknown-node', 'enroll on a node that has not joined yet (nor sends heartbeats)', false)
    .action(async (service: string, opts: EnrollOptions, cmd: Command) => {
      const target = await nodeOrThisHost(opts.node);
      const request = parseEnrollRequest(service, target.name, opts);
      const { endpoint, kept } = await withStore(cmd, async (store) => {
        if (!opts.allowUnknownNode) await requireKnownNode(store, target.name, target.from);
        const [node, existing] = await Promise.all([
          store.getNode(target.name),
          store.listEndpoints({ namespace: request.namespace, service, node: target.name }),
        ]);
        const enrollment = enrollmentOf(request, existing, node?.address);
        const operator = await operatorFor(cmd, store);
        const ep = enrollment.endpoint;
        await (operator ? (await writers()).signedEnroll(store, operator, ep) : store.enroll(ep));
        return enrollment;
      });
      const who = endpoint.uid !== undefined ? `, user ${endpoint.user} (uid ${endpoint.uid})` : '';
      const keptNote = kept.length ? `; kept from the existing endpoint: ${kept.join(', ')}` : '';
      process.stdout.write(
        `enrolled ${endpoint.namespace}/${endpoint.service} at ${endpoint.address}:${endpoint.port} on node ${endpoint.node} as sa ${endpoint.serviceAccount}${who}${keptNote}\n`,
      );
    });

  program
    .command('unenroll')
    .description("remove a service's endpoints on this host's node (or another, or every node) from the mesh")
    .argument('<service>', 'service name')
    .option('-n, --namespace <ns>', 'mesh namespace', 'default')
    .option('--node <name>', `only the endpoints on this node (${THIS_NODE_HELP})`)
    .option('--all-nodes', 'the endpoints on every node', false)
    .option('-p, --port <port>', 'only the endpoint on this port')
    .action(async (service: string, opts: UnenrollOptions, cmd: Command) => {
      if (opts.allNodes && opts.node) throw new UsageError('give --node NAME or --all-nodes, not both');
      const port = opts.port ? parsePort(opts.port) : undefined;
      const node = opts.allNodes ? undefined : (await nodeOrThisHost(opts.node)).name;
      const filter = { ...(node ? { node } : {}), ...(port ? { port } : {}) };
      const { removed } = await withStore(cmd, async (store) => {
        const operator = await operatorFor(cmd, store);
        const done = operator
          ? (await writers()).signedUnenroll(store, operator, opts.namespace, service, filter)
          : store.unenroll(opts.namespace, service, filter);
        return done.catch(async (err: unknown) => {
          if (!(err instanceof NotFoundError) || !node) throw err;
          throw await enrolledElsewhere(store, opts.namespace, service, err);
        });
      });
      process.stdout.write(`unenrolled ${opts.namespace}/${service}${node ? ` on node ${node}` : ''} (${removed} endpoint${removed === 1 ? '' : 's'})\n`);
    });
}

/** Nothing of the service on the node asked for: say where it is enrolled, so the operator can pick --node or --all-nodes. */
async function enrolledElsewhere(store: Store, namespace: string, service: string, err: NotFoundError): Promise<Error> {
  const nodes = [...new Set((await store.listEndpoints({ namespace, service })).map((e) => e.node))].sort();
  if (nodes.length === 0) return err;
  return new AmbitError('ESTORE_NOT_FOUND', `${err.message}; it is enrolled on node ${nodes.join(', ')}: pass --node NAME, or --all-nodes`, err.context);
}
