/**
 * The kernel parts capture needs: a nat table, the uid owner match and the
 * REDIRECT target. Probing by adding a rule would change the host, and even
 * listing (`iptables -t nat -S`) instantiates the nat table on the legacy
 * backend, so the evidence is read-only, strongest first:
 *  1. ambit's rules are installed (iptables-save shows them): the kernel took them;
 *  2. the kernel's build config (/proc/config.gz or /boot/config-*) names the options;
 *  3. legacy only: /proc/net/ip_tables_{names,matches,targets} list what is loaded.
 * The /proc/net lists say nothing on nf_tables: iptables-nft turns `-m owner` and
 * `-j REDIRECT` into native nft expressions (meta skuid, redir), not xt modules, so
 * an absent entry there is no evidence of a gap.
 */
import { readFile } from 'node:fs/promises';
import { fail, ok, warn, type Check, type CheckResult } from '../check.js';
import { runProbe } from '../exec.js';
import { readKernelConfig, type KernelConfig } from '../kernel-config.js';
import type { IptablesBackend } from './iptables.js';

interface Part {
  what: string;
  /** Alternatives (kernel versions renamed options); each is a set of options that must all be enabled. */
  anyOf: string[][];
  /** Its name in /proc/net/ip_tables_{names,matches,targets} (legacy backend). */
  registered: { list: 'names' | 'matches' | 'targets'; name: string };
}

const PARTS: Record<IptablesBackend, Part[]> = {
  nf_tables: [
    { what: 'nat table', anyOf: [['NFT_NAT'], ['NFT_CHAIN_NAT'], ['NFT_CHAIN_NAT_IPV4']], registered: { list: 'names', name: 'nat' } },
    {
      what: 'owner match',
      anyOf: [
        ['NF_TABLES', 'NF_TABLES_IPV4'],
        ['NFT_COMPAT', 'NETFILTER_XT_MATCH_OWNER'],
      ],
      registered: { list: 'matches', name: 'owner' },
    },
    {
      what: 'REDIRECT target',
      anyOf: [['NFT_REDIR'], ['NFT_REDIR_IPV4'], ['NFT_COMPAT', 'NETFILTER_XT_TARGET_REDIRECT']],
      registered: { list: 'targets', name: 'REDIRECT' },
    },
  ],
  legacy: [
    { what: 'nat table', anyOf: [['IP_NF_IPTABLES', 'IP_NF_NAT']], registered: { list: 'names', name: 'nat' } },
    { what: 'owner match', anyOf: [['NETFILTER_XT_MATCH_OWNER']], registered: { list: 'matches', name: 'owner' } },
    { what: 'REDIRECT target', anyOf: [['NETFILTER_XT_TARGET_REDIRECT'], ['IP_NF_TARGET_REDIRECT']], registered: { list: 'targets', name: 'REDIRECT' } },
  ],
};

export interface KernelEvidence {
  /** `iptables-save` output. */
  saved: string;
  config: KernelConfig | undefined;
  /** legacy: the /proc/net/ip_tables_* lists. */
  registered: Record<Part['registered']['list'], Set<string>>;
}

/** A nat rule with an owner match that REDIRECTs: what apply.sh installs, so the kernel has all three. */
export function rulesProveSupport(saved: string): boolean {
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (table === 'nat' && /^-A \S+ .*-m owner .*-j REDIRECT\b/.test(line)) return true;
  }
  return false;
}

export function judgeKernelSupport(backend: IptablesBackend, evidence: KernelEvidence): CheckResult {
  if (rulesProveSupport(evidence.saved)) return ok(`${backend}: nat table, owner match and REDIRECT in use by installed rules`);
  const parts = PARTS[backend];
  const { config } = evidence;
  if (config) {
    const missing = parts.filter((p) => !p.anyOf.some((all) => all.every((o) => config.enabled.has(o))));
    if (missing.length === 0) return ok(`${backend}: nat table, owner match and REDIRECT built in or modules (${config.source})`);
    const wanted = missing.map((p) => `${p.what} (CONFIG_${p.anyOf.map((all) => all.join(' + CONFIG_')).join(' or CONFIG_')})`).join(', ');
    return fail(
      `${backend}: the kernel lacks ${wanted} per ${config.source}`,
      `use a kernel built with those options (most distribution kernels are), or switch backends with update-alternatives --set iptables /usr/sbin/iptables-${backend === 'legacy' ? 'nft' : 'legacy'}`,
    );
  }
  if (backend === 'legacy') {
    const missing = parts.filter((p) => !evidence.registered[p.registered.list].has(p.registered.name));
    if (missing.length === 0) return ok('legacy: nat table, owner match and REDIRECT loaded (/proc/net/ip_tables_*)');
    return warn(
      `legacy: ${missing.map((p) => p.what).join(', ')} not loaded and no kernel config to tell whether they can be`,
      'modprobe -n -v iptable_nat xt_owner xt_REDIRECT tells whether the modules exist; ambitd loads them when it applies its rules',
    );
  }
  return warn(
    'nf_tables: no kernel config (/proc/config.gz, /boot/config-*) and no installed rules to tell whether nat, owner and REDIRECT work',
    'start ambitd with a service enrolled and run doctor again: the capture-rules check then shows whether the kernel took the rules',
  );
}

async function readList(file: string): Promise<Set<string>> {
  try {
    return new Set(
      (await readFile(file, 'utf8'))
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  } catch {
    return new Set();
  }
}

export const kernelCaptureCheck: Check = {
  name: 'kernel-capture',
  // iptables calls take seconds on a busy host.
  timeoutMs: 10_000,
  needs: ['iptables'],
  run: async (ctx, signal) => {
    const backend = ctx.iptablesBackend ?? 'legacy';
    const saved = await runProbe('iptables-save', [], signal);
    if (saved.code !== 0) return fail(`iptables-save failed: ${saved.stderr.trim()}`, 'run iptables-save by hand to see why; the capture scripts need it');
    const [config, names, matches, targets] = await Promise.all([
      readKernelConfig(),
      readList('/proc/net/ip_tables_names'),
      readList('/proc/net/ip_tables_matches'),
      readList('/proc/net/ip_tables_targets'),
    ]);
    return judgeKernelSupport(backend, { saved: saved.stdout, config, registered: { names, matches, targets } });
  },
};
