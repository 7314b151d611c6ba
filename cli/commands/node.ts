/** `ambit node token create` and `ambit node join`: how a host gets its node identity. */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { parseDurationSeconds } from '../duration.js';
import { withStore } from '../store-client.js';

const DEFAULT_NODE_DIR = '/var/lib/ambit';

export function registerNode(program: Command): void {
  const node = program.command('node').description('node identity: join tokens and joining');
  const token = node.command('token').description('one-time join tokens');

  token
    .command('create')
    .description('print a one-time, expiring join token (only the token, on stdout)')
    .option('--node <name>', 'only this node may use it')
    .option('--ttl <duration>', 'how long it can be used', '1h')
    .action(async (opts: { node?: string; ttl: string }, cmd: Command) => {
      const ttlSeconds = parseDurationSeconds(opts.ttl, '--ttl');
      if (opts.node) {
        // Refuse now a name the signer would refuse at join time.
        const { nodeId } = await import('../../core/identity/spiffe.js');
        nodeId('cluster.local', opts.node);
      }
      const { createJoinToken } = await import('../../core/identity/store/tokens.js');
      const created = await withStore(cmd, (store) => createJoinToken(store, { ttlSeconds, ...(opts.node ? { node: opts.node } : {}) }));
      process.stdout.write(`${created.token}\n`);
    });

  node
    .command('join')
    .description("generate this node's key here, and trade a join token and a CSR for its node certificate")
    .requiredOption('--token <token>', 'from `ambit node token create` (or env AMBIT_JOIN_TOKEN)', process.env.AMBIT_JOIN_TOKEN)
    .option('--node <name>', 'node name', hostname())
    .option('--dir <dir>', 'state directory for node-key.pem (0600), node-cert.pem, bundle.pem', DEFAULT_NODE_DIR)
    .option('--timeout <duration>', 'how long to wait for a signer', '10s')
    .option('--force', 'join again with a new key even if this node already joined', false)
    .action(async (opts: { token: string; node: string; dir: string; timeout: string; force: boolean }, cmd: Command) => {
      const timeoutMs = parseDurationSeconds(opts.timeout, '--timeout') * 1000;
      const { joinNode } = await import('../../core/identity/client/join.js');
      const identity = await withStore(cmd, (store) =>
        joinNode({ store, token: opts.token, nodeName: opts.node, dir: opts.dir, force: opts.force, timeoutMs }),
      );
      process.stdout.write(
        `joined as ${identity.spiffeId.uri} (serial ${identity.serial}, expires ${identity.notAfter.toISOString()}); key and certificate in ${opts.dir}\n`,
      );
    });
}
