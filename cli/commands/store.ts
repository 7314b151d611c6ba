/**
 * `ambit store init`: give the store its roles (core/access/store-init.ts). Run
 * once, as Redis's administrator, before `ambit ca init`; from then on the CLI
 * uses the operator's credentials file and each node its own.
 */
import type { Command } from 'commander';
import { DEFAULT_CREDENTIALS_DIR } from '../../core/access/credentials.js';
import { withStore } from '../store-client.js';

export function registerStore(program: Command): void {
  const store = program.command('store').description('the store (Redis): roles and credentials');
  store
    .command('init')
    .description("create the operator's and the signer's Redis users, write their credentials files, and turn the passwordless default user off")
    .option('--dir <dir>', 'where operator.json and signer.json are written (mode 0600)', DEFAULT_CREDENTIALS_DIR)
    .option('--keep-default-user', "leave Redis's default user as it is (only if other applications need it: any client of it can then change the mesh)", false)
    .option('--force', 'issue new passwords even if the files exist (their old holders are locked out)', false)
    .action(async (opts: { dir: string; keepDefaultUser: boolean; force: boolean }, cmd: Command) => {
      const { initStore } = await import('../../core/access/store-init.js');
      const { describeServers } = await import('../../core/access/acl-fleet.js');
      const r = await withStore(cmd, (s) =>
        initStore(s.redis, { dir: opts.dir, keyPrefix: s.options.keyPrefix, keepDefaultUser: opts.keepDefaultUser, force: opts.force }),
      );
      const out = [
        `created Redis user ${r.operator.user} (operator: apply, enroll, tokens, waypoints); credentials in ${r.operator.file}`,
        `created Redis user ${r.signer.user} (signer: ambit ca serve, ambitd --ca); credentials in ${r.signer.file}`,
        r.defaultUser === 'disabled'
          ? "turned Redis's default user off: every client now needs a role's credentials"
          : "WARNING: Redis's default user was left as it was: any client of it can change the mesh",
        // Redis does not replicate ACL users: each server got them itself, and says where it keeps them.
        `users set on ${describeServers(r.servers)}`,
        r.persistence === 'memory'
          ? 'WARNING: a server above has no aclfile and no config file: there these users live in memory only and are lost when it restarts (start redis-server with --aclfile)'
          : undefined,
        `next: export AMBIT_REDIS_CREDENTIALS=${r.operator.file}, then ambit ca init`,
      ].filter(Boolean);
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
