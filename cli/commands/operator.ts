/**
 * `ambit operator init`: the key that signs the security manifest (policy and
 * enrollments). Run where the CA directory is: the CA issues the operator a
 * certificate, which is how daemons come to trust its signatures without a
 * second key to hand out. `ambit ca init` does this too, so most meshes never
 * run it; it is for a second operator, a new name, or a lost key.
 */
import type { Command } from 'commander';
import { dirname, join } from 'node:path';

const DEFAULT_CA_DIR = '/etc/ambit/ca';

export function registerOperator(program: Command): void {
  const operator = program.command('operator').description('the operator key that signs policy and enrollments');
  operator
    .command('init')
    .description('create an operator key (0600) and have the CA issue its certificate spiffe://<td>/ambit/operator/<name>')
    .option('--ca-dir <dir>', 'the CA directory (its key issues the certificate)', DEFAULT_CA_DIR)
    .option('--name <name>', 'operator name in the certificate (default: admin, or the name already there)')
    .action(async (opts: { caDir: string; name?: string }, cmd: Command) => {
      const [{ loadCADir }, { issueOperator }] = await Promise.all([import('../../core/identity/ca-dir.js'), import('../../core/identity/operator.js')]);
      const dir = operatorDir(cmd, opts.caDir);
      const issued = await issueOperator(await loadCADir(opts.caDir), dir, opts.name ? { name: opts.name } : {});
      process.stdout.write(`operator ${issued.spiffeId.uri} in ${dir} (certificate expires ${issued.notAfter.toISOString()})\n`);
    });
  operator
    .command('resign')
    .description('sign the security manifest again (new sequence): as it is, or with --adopt vouching for the policy and enrollments now in the store')
    .option('--adopt', 'list exactly what the store holds now (after checking it: this is how an unsigned mesh moves to signed configuration)', false)
    .action(async (opts: { adopt: boolean }, cmd: Command) => {
      const [{ withStore }, { loadOperator }, { resignManifest }] = await Promise.all([
        import('../store-client.js'),
        import('../../core/identity/operator.js'),
        import('../../core/identity/manifest/writer.js'),
      ]);
      const operator = await loadOperator(operatorDir(cmd));
      const sequence = await withStore(cmd, (store) => resignManifest(store, operator, { adopt: opts.adopt }));
      process.stdout.write(`security manifest signed by ${operator.spiffeId.uri} (sequence ${sequence})\n`);
    });
}

/**
 * Where the operator key is: --operator-dir / AMBIT_OPERATOR_DIR when given,
 * else beside the CA directory (`/etc/ambit/ca` -> `/etc/ambit/operator`).
 */
export function operatorDir(cmd: Command, caDir = DEFAULT_CA_DIR): string {
  const given = cmd.optsWithGlobals<{ operatorDir?: string }>().operatorDir;
  if (given) return given;
  return join(dirname(caDir), 'operator');
}
