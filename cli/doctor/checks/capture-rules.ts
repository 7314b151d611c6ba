/**
 * ambitd's iptables rules are installed exactly as ambitd last applied them:
 * scripts/iptables/check.sh, run with the options ambitd reports on its admin
 * API, compares the kernel's rules with what apply.sh would install. Without a
 * daemon, installed rules are a fault of their own: they redirect enrolled
 * services' mesh connections to a port nobody listens on.
 */
import { IPTABLES_SCRIPTS_DIR } from '../../../core/iptables-scripts.js';
import type { ConfigDumpStatus } from '../../../core/status/index.js';
import { errorText, fail, ok, skip, warn, type Check, type CheckResult } from '../check.js';
import { runProbe } from '../exec.js';

/** An older daemon may not report capture. */
type ConfigDump = Partial<Pick<ConfigDumpStatus, 'capture'>>;

const script = (name: string): string => `${IPTABLES_SCRIPTS_DIR}${name}`;

/** A command line an operator can paste: empty and unusual arguments single-quoted. */
export function shellCommand(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** "uids 2001,2002; mesh 240.240.0.0/16,10.0.0.2/32; DNS; STRICT 9080" from apply.sh's options. */
export function describeCaptureArgs(args: readonly string[]): string {
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const parts = [`uids ${value('--uids') || 'none'}`, `mesh ${value('--mesh-cidrs') ?? 'default range'}`];
  if (args.includes('--dns')) parts.push(`DNS to :${value('--dns-port') ?? '15053'}`);
  const strict = value('--strict-ports');
  if (strict) parts.push(`STRICT ${strict}`);
  return parts.join('; ');
}

/** check.sh's problem lines (stderr, "ambit-iptables: " prefixed) as one line. */
export function checkScriptProblems(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^ambit-iptables:\s*/, '').trim())
    .filter(Boolean)
    .join('; ');
}

async function withoutDaemon(signal: AbortSignal, why: string): Promise<CheckResult> {
  const saved = await runProbe('iptables-save', [], signal);
  if (saved.code !== 0) return fail(`iptables-save failed: ${saved.stderr.trim()}`, 'run iptables-save by hand to see why');
  const chains = [...new Set(saved.stdout.match(/^:AMBIT_[A-Z_]+/gm) ?? [])].map((c) => c.slice(1)).sort();
  if (chains.length === 0) return skip(`ambitd is not running (${why}) and no ambit rules are installed`);
  return fail(
    `ambit's rules (${chains.join(', ')}) are installed but ambitd is not running: enrolled services' mesh connections are redirected to a port nobody listens on`,
    `start ambitd, or remove the rules: bash ${script('remove.sh')}`,
  );
}

export const captureRulesCheck: Check = {
  name: 'capture-rules',
  // check.sh runs iptables-save and ip6tables-save and reads every chain: seconds under load.
  timeoutMs: 10_000,
  needs: ['root', 'iptables', 'config'],
  run: async (ctx, signal) => {
    let dump: ConfigDump;
    try {
      const reply = await ctx.admin<ConfigDump>('/config_dump');
      if (reply.status !== 200) return withoutDaemon(signal, `/config_dump answered HTTP ${reply.status}`);
      dump = reply.body;
    } catch (err) {
      return withoutDaemon(signal, errorText(err));
    }
    const capture = dump.capture;
    if (!capture)
      return warn('ambitd does not report its capture options (it is older than this ambit CLI)', 'upgrade ambitd to the version of this CLI and restart it');
    if (!capture.enabled) return skip('capture is off in ambitd (capture.enabled: false)');
    if (capture.lastError)
      return fail(`ambitd could not apply its rules: ${capture.lastError}`, 'fix what the error says, then restart ambitd (it applies its rules at start)');
    if (!capture.appliedArgs)
      return warn('ambitd has not applied its rules yet (no config snapshot?)', 'wait a few seconds; if it persists, see the redis and ambitd checks');
    const run = await runProbe('bash', [script('check.sh'), ...capture.appliedArgs], signal);
    const applied = describeCaptureArgs(capture.appliedArgs);
    if (run.code === 0) return ok(`in place and in step with ambitd: ${applied}`);
    const apply = shellCommand(['bash', script('apply.sh'), ...capture.appliedArgs]);
    if (run.code === 1)
      return fail(`not as ambitd applied them (${applied}): ${checkScriptProblems(run.stderr)}`, `put them back: ${apply} (or restart ambitd)`);
    return fail(
      `check.sh could not check the rules: ${checkScriptProblems(run.stderr) || `exit ${run.code}`}`,
      `run it by hand to see why: ${shellCommand(['bash', script('check.sh'), ...capture.appliedArgs])}`,
    );
  },
};
