/**
 * `ambit node token create|join|list|remove`: how a host gets its node identity,
 * and how an operator takes it away. A token is bound to one node name; when the
 * store runs with roles (`ambit store init`), minting it also creates that node's
 * Redis user, and `ambit node remove` deletes the user, the join record and
 * everything enrolled on the node, so the name can join again only with a new token.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULT_NODE_DIR } from '../../core/identity/client/node-dir.js';
import type { Store } from '../../core/store/index.js';
import { AmbitError, NotFoundError } from '../../core/errors.js';
import { parseDurationSeconds } from '../duration.js';
import { age, listOf, outputFormat, outputOption, renderData, renderTable } from '../output.js';
import { storeOptions, withStore, withStoreOptions } from '../store-client.js';
import { thisNode, THIS_NODE_HELP } from '../this-node.js';

export function registerNode(program: Command): void {
  const node = program.command('node').description('node identities: join tokens, joining, listing and removing nodes');
  const token = node.command('token').description('one-time join tokens');

  token
    .command('create')
    .description('print a one-time, expiring join token for one node (only the token, on stdout)')
    .requiredOption('--node <name>', 'the node that may use it (and no other)')
    .option('--ttl <duration>', 'how long it can be used', '1h')
    .action(async (opts: { node: string; ttl: string }, cmd: Command) => {
      const ttlSeconds = parseDurationSeconds(opts.ttl, '--ttl');
      // Refuse now a name the signer would refuse at join time.
      const { nodeId } = await import('../../core/identity/spiffe.js');
      nodeId('cluster.local', opts.node);
      const { mintNodeToken } = await import('../../core/access/node-token.js');
      const { loadOperator } = await import('../../core/identity/operator.js');
      const { operatorDir } = await import('./operator.js');
      // The signer honours only operator-signed tokens: without the key there is no token to print.
      const operator = await loadOperator(operatorDir(cmd));
      const minted = await withStore(cmd, (store) => mintNodeToken(store, operator, { ttlSeconds, node: opts.node }));
      if (minted.readmitted) process.stderr.write(`node ${opts.node} was removed: its name is admitted again (its old certificates stay revoked)\n`);
      if (minted.persistence === 'memory') {
        process.stderr.write(
          `warning: a Redis server has no aclfile or config file: user ${minted.user} lives in memory only there and is lost when it restarts\n`,
        );
      }
      if (minted.servers && minted.servers.length > 1) {
        const { describeServers } = await import('../../core/access/acl-fleet.js');
        process.stderr.write(`store user ${minted.user} set on ${describeServers(minted.servers)}\n`);
      }
      process.stdout.write(`${minted.token}\n`);
    });

  node
    .command('join')
    .description("generate this node's key here, and trade a join token and a CSR for its node certificate")
    .requiredOption('--token <token>', 'from `ambit node token create` (or env AMBIT_JOIN_TOKEN)', process.env.AMBIT_JOIN_TOKEN)
    .option('--node <name>', `node name (${THIS_NODE_HELP})`)
    .option('--dir <dir>', 'state directory for node-key.pem (0600), node-cert.pem, bundle.pem and the store credentials', DEFAULT_NODE_DIR)
    .option('--timeout <duration>', 'how long to wait for a signer', '10s')
    .option('--force', 'join again with a new key even if this node already joined', false)
    .option(
      '--root-fingerprint <sha256>',
      "the mesh root's SHA-256 fingerprint from `ambit ca show`, given out of band: the store's trust bundle must be signed by it (and it must agree with the token's)",
    )
    .action(async (flags: { token: string; node?: string; dir: string; timeout: string; force: boolean; rootFingerprint?: string }, cmd: Command) => {
      const opts = { ...flags, node: flags.node ?? (await thisNode()).name };
      const timeoutMs = parseDurationSeconds(opts.timeout, '--timeout') * 1000;
      const { parseFingerprint } = await import('../../core/identity/fingerprint.js');
      const rootPin = opts.rootFingerprint
        ? { fingerprint: parseFingerprint(opts.rootFingerprint, '--root-fingerprint'), from: '--root-fingerprint' }
        : undefined;
      const { joinNode } = await import('../../core/identity/client/join.js');
      const { tokenCredentials } = await import('../../core/access/node-token.js');
      const { NODE_CREDENTIALS_FILE, writeCredentials } = await import('../../core/access/credentials.js');
      const { DEFAULT_KEY_PREFIX } = await import('../../core/store/keys.js');
      const options = storeOptions(cmd.optsWithGlobals<{ redis: string }>().redis);
      // A token minted for a store with roles carries this node's own credentials: use them, and keep them.
      const credentials = tokenCredentials(opts.token, options.keyPrefix ?? DEFAULT_KEY_PREFIX, opts.node);
      const identity = await withStoreOptions(credentials ? { ...options, ...credentials } : options, async (store) => {
        const joined = await joinNode({ store, token: opts.token, nodeName: opts.node, dir: opts.dir, force: opts.force, timeoutMs, rootPin });
        if (credentials) await writeCredentials(join(opts.dir, NODE_CREDENTIALS_FILE), credentials);
        return joined;
      });
      process.stdout.write(
        `joined as ${identity.spiffeId.uri} (serial ${identity.serial}, expires ${identity.notAfter.toISOString()}); key and certificate in ${opts.dir}\n`,
      );
    });

  node
    .command('list')
    .description('show the nodes that joined, whether their daemon is alive, and their store user')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { output: string }, cmd: Command) => {
      const format = outputFormat(opts.output);
      const rows = await withStore(cmd, listNodes);
      if (format !== 'table') return void process.stdout.write(await renderData(listOf(rows), format));
      if (rows.length === 0) return void process.stdout.write('No nodes have joined.\n');
      process.stdout.write(
        renderTable(
          ['NAME', 'JOINED', 'ADDRESS', 'LAST SEEN', 'STORE USER'],
          rows.map((n) => [n.name, n.joinedAt ? age(n.joinedAt) : '-', n.address ?? '-', n.lastSeen ? age(n.lastSeen) : 'not running', n.storeUser ?? '-']),
        ),
      );
    });

  node
    .command('remove')
    .description(
      'take a node out of the mesh: revoke its name and certificates in the signed manifest, delete its store user, its join record and everything enrolled on it',
    )
    .argument('<name>', 'node name')
    .option('--force', 'remove it even while services or waypoints are enrolled on it (they are unenrolled with it)', false)
    .action(async (name: string, opts: { force: boolean }, cmd: Command) => {
      const { removeNode } = await import('../../core/access/node-removal.js');
      const { operatorFor } = await import('../signed-writes.js');
      const removed = await withStore(cmd, async (store) => {
        // Checked before anything is written: a typo must not revoke a name, and a busy node must not vanish under its services.
        await checkRemovable(store, name, opts.force);
        // The operator key signs the revocation (and the unenrolls); a mesh without a CA has nothing to revoke.
        return removeNode(store, name, await operatorFor(cmd, store));
      });
      const parts = [
        removed.user ? `store user ${removed.user} deleted (on ${removed.servers?.map((s) => s.address).join(', ')})` : undefined,
        removed.joined ? 'join record deleted' : undefined,
        `${removed.endpoints} endpoint${removed.endpoints === 1 ? '' : 's'} unenrolled`,
        removed.serials.length
          ? `${removed.serials.length} certificate${removed.serials.length === 1 ? '' : 's'} ${removed.revokedAt ? 'revoked' : 'no longer renewed'} (they expire by ${removed.lastExpiry})`
          : undefined,
        removed.revokedAt ? `name and certificates on the signed revocation list (manifest sequence ${removed.revokedAt})` : undefined,
      ].filter(Boolean);
      process.stdout.write(`removed node ${name}: ${parts.join(', ')}; to join it again, create a new token (it lifts the name, not the old certificates)\n`);
    });
}

/** Refuses a name the mesh has no trace of (NotFound, with the closest known name) and, without --force, a node with enrollments. */
async function checkRemovable(store: Store, name: string, force: boolean): Promise<void> {
  const [{ listIssued }, { nodeUsers }, { knownNodeNames }] = await Promise.all([
    import('../../core/identity/store/issued.js'),
    import('../../core/access/admin.js'),
    import('../known-nodes.js'),
  ]);
  const [known, endpoints, users, issued] = await Promise.all([
    knownNodeNames(store),
    store.listEndpoints({ node: name }),
    nodeUsers(store),
    listIssued(store, { node: name }),
  ]);
  if (!known.includes(name) && endpoints.length === 0 && !users.has(name) && issued.length === 0) {
    const { didYouMean } = await import('../../core/config/suggest.js');
    throw new NotFoundError(`node ${name}${didYouMean(name, [...known, ...users.keys()])} (see ambit node list)`, { node: name });
  }
  if (endpoints.length > 0 && !force) {
    const shown = endpoints.slice(0, 5).map((e) => `${e.namespace}/${e.service} ${e.address}:${e.port}`);
    const more = endpoints.length > shown.length ? `, and ${endpoints.length - shown.length} more` : '';
    throw new AmbitError(
      'ENODE_HAS_ENROLLMENTS',
      `node ${name} still has ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'} enrolled (${shown.join(', ')}${more}): unenroll or move them first (ambit unenroll SERVICE --node ${name}), or pass --force to unenroll them with the node`,
      { node: name, endpoints: endpoints.length },
    );
  }
}

interface NodeRow {
  name: string;
  joinedAt?: string;
  address?: string;
  lastSeen?: number;
  storeUser?: string;
}

async function listNodes(store: Store): Promise<NodeRow[]> {
  const { listJoined } = await import('../../core/identity/store/joined.js');
  const { nodeUsers } = await import('../../core/access/admin.js');
  const [joined, live, users] = await Promise.all([listJoined(store), store.listNodes(), nodeUsers(store)]);
  const rows = new Map<string, NodeRow>();
  const row = (name: string) => rows.get(name) ?? rows.set(name, { name }).get(name)!;
  for (const j of joined) row(j.node).joinedAt = j.joinedAt;
  for (const n of live) Object.assign(row(n.name), { address: n.address, lastSeen: n.lastSeen });
  for (const [name, user] of users) row(name).storeUser = user;
  return [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
