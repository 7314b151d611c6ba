// Thin wrappers around the `ip` command for the netns test helpers.
// Creation is async (topologies are built in parallel); removal is synchronous so
// the same code can run from a process 'exit' handler, where nothing async runs.

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Run `ip <args>`; on failure, throw an error that shows the command and ip's own message. */
export async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args);
    return stdout;
  } catch (error) {
    const out = (error as { stderr?: unknown }).stderr;
    const stderr = typeof out === 'string' ? out.trim() : '';
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

function ipSync(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Names of all named network namespaces (`ip netns list` also prints "(id: N)" after some). */
export function ipNetnsList(): string[] {
  return ipSync(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/**
 * Kill every process inside each namespace, then delete it. Links inside go with it
 * (a veth dies with either end). Missing namespaces are fine: this runs on partial
 * topologies and more than once. Throws if a namespace that exists cannot be deleted,
 * so a leak fails the test rather than going unnoticed.
 */
export function removeNamespaces(names: readonly string[]): void {
  const existing = new Set(ipNetnsList());
  const failures: string[] = [];
  for (const ns of names) {
    if (!existing.has(ns)) continue;
    for (const pid of nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    try {
      ipSync(['netns', 'del', ns]);
    } catch (error) {
      // Someone else (a concurrent sweep, an exit hook) may have just removed it.
      if (!ipNetnsList().includes(ns)) continue;
      failures.push(`${ns}: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`);
    }
  }
  if (failures.length > 0) throw new Error(`could not delete network namespaces:\n${failures.join('\n')}`);
}

function nsPids(ns: string): number[] {
  try {
    return ipSync(['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
