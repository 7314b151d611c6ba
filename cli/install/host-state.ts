/** What install and uninstall look at before deciding anything: the target root, installed files, systemd. */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AmbitError, UsageError } from '../../core/errors.js';
import { resolveRoot } from './layout.js';

/**
 * --root resolved, and checked to be an existing directory ("/" when not
 * given); changing the host itself needs root, which is said before anything is done.
 */
export async function checkedRoot(root: string | undefined, command: string, dryRun: boolean): Promise<string> {
  const resolved = resolveRoot(root);
  const s = await stat(resolved).catch(() => undefined);
  if (!s?.isDirectory()) throw new UsageError(`--root ${root}: no such directory; create it first (install writes etc/ambit and etc/systemd/system under it)`);
  if (resolved === '/' && !dryRun && process.getuid?.() !== 0) {
    throw new AmbitError(
      'EINSTALL_NOT_ROOT',
      `ambit ${command} changes /etc, systemd and iptables: run it as root (sudo ambit ${command} ...), or look first with --dry-run`,
    );
  }
  return resolved;
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** systemd's own test (sd_booted): it is this host's init. */
export function systemdRuns(): boolean {
  return existsSync('/run/systemd/system');
}

/** Whether this host has IPv6 (the kernel lists its addresses there), so a unit can bind "::". */
export function hostHasIpv6(): boolean {
  return existsSync('/proc/net/if_inet6');
}

/** A command's absolute path: PATH first, then the sbin directories a non-login root shell may lack. */
export function findCommand(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return dirs
    .filter((d) => d.startsWith('/'))
    .map((d) => join(d, name))
    .find((path) => existsSync(path));
}
