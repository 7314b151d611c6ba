/**
 * `ambit install` and `ambit uninstall`: ambitd as a systemd service on this
 * host (cli/install/). --root writes under a directory instead of / (for
 * packaging and tests) and never touches systemd or iptables.
 */
import type { Command } from 'commander';

const print = (line: string): void => void process.stdout.write(`${line}\n`);

interface InstallFlags {
  nodeName?: string;
  address?: string;
  root?: string;
  dryRun: boolean;
  start: boolean;
  ca: boolean;
  force: boolean;
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('install ambitd on this host: /etc/ambit/ambitd.yaml and a systemd unit, then enable and start it (store URL: the global --redis)')
    .option('--node-name <name>', 'this node in the mesh (default: the hostname, when ambitd starts)')
    .option('--address <ip>', 'address peers reach this node at (default: the first non-loopback IPv4, when ambitd starts)')
    .option('--ca', 'also run the certificate signer in ambitd (needs the CA in /etc/ambit/ca: ambit ca init)', false)
    .option('--root <dir>', 'write under this directory instead of / (systemd and iptables are left alone)')
    .option('--dry-run', 'print every file (with its content) and command, change nothing', false)
    .option('--no-start', 'write the files only; print the systemctl commands to run')
    .option('--force', 'replace an ambitd.yaml that was edited by hand', false)
    .action(async (opts: InstallFlags, cmd: Command) => {
      const { install } = await import('../install/install.js');
      await install({ ...opts, redisUrl: givenRedisUrl(cmd) }, print);
    });

  program
    .command('uninstall')
    .description('stop and disable ambitd, remove its unit and capture rules; --purge also removes /etc/ambit and /var/lib/ambit')
    .option('--root <dir>', 'remove what `ambit install --root <dir>` wrote (systemd and iptables are left alone)')
    .option('--dry-run', 'print what would be removed and run, change nothing', false)
    .option('--purge', "also remove ambitd.yaml and the node's identity (the CA in /etc/ambit/ca is always kept)", false)
    .action(async (opts: { root?: string; dryRun: boolean; purge: boolean }) => {
      const { uninstall } = await import('../install/uninstall.js');
      await uninstall(opts, print);
    });
}

/** The store URL, only when the user chose one (--redis or AMBIT_REDIS_URL); otherwise the template's default stays. */
function givenRedisUrl(cmd: Command): string | undefined {
  const source = cmd.parent?.getOptionValueSource('redis');
  return source === 'cli' || process.env.AMBIT_REDIS_URL ? cmd.optsWithGlobals<{ redis: string }>().redis : undefined;
}
