/** iptables is installed, and which kernel backend it drives (the capture scripts work with either). */
import { fail, ok, type Check } from '../check.js';
import { runProbe } from '../exec.js';

export type IptablesBackend = 'nf_tables' | 'legacy';

/** From `iptables --version`: "iptables v1.8.9 (nf_tables)" or "iptables v1.8.7 (legacy)" / "iptables v1.6.1". */
export function parseIptablesVersion(text: string): { version: string; backend: IptablesBackend } | undefined {
  const m = /iptables v(\d+(?:\.\d+)*)(?:\s+\((\w+)\))?/.exec(text);
  if (!m) return undefined;
  // Before 1.8 there was only the legacy backend, and its --version says nothing about it.
  return { version: m[1]!, backend: m[2] === 'nf_tables' ? 'nf_tables' : 'legacy' };
}

const INSTALL = 'install it: apt-get install -y iptables (or dnf install -y iptables-nft)';

export const iptablesCheck: Check = {
  name: 'iptables',
  // iptables calls take seconds on a busy host.
  timeoutMs: 10_000,
  needs: ['root'],
  run: async (ctx, signal) => {
    const out = await runProbe('iptables', ['--version'], signal);
    if (out.missing) return fail('iptables is not installed: ambitd cannot capture traffic', INSTALL);
    const parsed = parseIptablesVersion(out.stdout);
    if (out.code !== 0 || !parsed) return fail(`\`iptables --version\` failed: ${(out.stderr || out.stdout).trim()}`, INSTALL);
    for (const tool of ['iptables-save', 'iptables-restore']) {
      if ((await runProbe(tool, ['--version'], signal)).missing)
        return fail(`iptables ${parsed.version} is there but ${tool} is not (the capture scripts need it)`, INSTALL);
    }
    ctx.iptablesBackend = parsed.backend;
    return ok(`iptables v${parsed.version}, ${parsed.backend} backend`);
  },
};
