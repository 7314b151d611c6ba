/**
 * The running kernel's build options (CONFIG_X=y|m), from /proc/config.gz
 * (CONFIG_IKCONFIG_PROC) or the distribution's /boot/config-<release>. "m"
 * counts as present: the kernel loads the module when a rule first needs it.
 */
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

export interface KernelConfig {
  source: string;
  /** Option names without the CONFIG_ prefix that are built in or modules. */
  enabled: Set<string>;
}

export function parseKernelConfig(text: string): Set<string> {
  const enabled = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^CONFIG_(\w+)=(y|m)$/.exec(line.trim());
    if (m) enabled.add(m[1]!);
  }
  return enabled;
}

/** Undefined when neither file is readable (many containers and some distributions). */
export async function readKernelConfig(): Promise<KernelConfig | undefined> {
  try {
    return { source: '/proc/config.gz', enabled: parseKernelConfig(gunzipSync(await readFile('/proc/config.gz')).toString('utf8')) };
  } catch {
    const boot = `/boot/config-${release()}`;
    try {
      return { source: boot, enabled: parseKernelConfig(await readFile(boot, 'utf8')) };
    } catch {
      return undefined;
    }
  }
}
