/**
 * ambitd's iptables rules are installed exactly as ambitd last applied them:
 * scripts/iptables/check.sh, run with the options ambitd reports on its admin
 * API, compares the kernel's rules with what apply.sh would install. Without a
 * daemon, what should be there depends on the fail mode: failing closed (the
 * default) the rules stay, so enrolled services' mesh connections are refused
 * rather than sent in plaintext, and what matters is that they are whole;
 * failing open they should have gone, and rules left behind are a fault.
 */
import { IPTABLES_SCRIPTS_DIR } from '../../../core/iptables-scripts.js';
import { failMode, type FailMode } from '../../../core/config/fail-mode.js';
import type { ConfigDumpStatus } from '../../../core/status/index.js';
import { errorText, fail, ok, skip, warn, type Check, type CheckResult } from '../check.js';
import { runProbe } from '../exec.js';
import type { DoctorContext } from '../context.js';

/** An older daemon may not report capture. */
type ConfigDump = Partial<Pick<ConfigDumpStatus, 'capture'>>;

const script = (name: string): string => `${IPTABLES_SCRIPTS_DIR}${name}`;

/** A command line an operator can paste: empty and unusual arguments single-quoted. */
export function shellCommand(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** "uids 2001,2002; mesh 240.240.0.0/16,10.0.0.2/32; DNS; STRICT 9080; plaintext to ..." from apply.sh's options. */
export function describeCaptureArgs(args: readonly string[]): string {
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const parts = [`uids ${value('--uids') || 'none'}`, `mesh ${value('--mesh-cidrs') ?? 'default range'}`];
  if (args.includes('--dns')) parts.push(`DNS to :${value('--dns-port') ?? '15053'}`);
  const strict = value('--strict-ports');
  if (strict) parts.push(`STRICT ${strict}`);
  const inbound = value('--inbound-endpoints');
  if (inbound) parts.push(`plaintext to ${inbound} policed at :${value('--inbound-port') ?? '15006'}`);
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

/** Where apply.sh hooks its entry chains (scripts/iptables/lib.sh HOOK and ENTRY). */
const HOOKS = [
  { chain: 'AMBIT_OUTPUT', hook: 'nat OUTPUT', jump: /^-A OUTPUT .*-j AMBIT_OUTPUT$/m },
  { chain: 'AMBIT_PREROUTING', hook: 'nat PREROUTING', jump: /^-A PREROUTING .*-j AMBIT_PREROUTING$/m },
  { chain: 'AMBIT_INBOUND', hook: 'filter INPUT', jump: /^-A INPUT .*-j AMBIT_INBOUND$/m },
] as const;

/**
 * The verdict on `saved` (iptables-save's output) while no ambitd answers (pure,
 * for tests). Failing closed, rules are whole when each chain still has its jump
 * from the built-in hook: a chain nothing jumps to lets traffic fall through.
 */
export function judgeRulesWithoutDaemon(mode: FailMode, saved: string, why: string): CheckResult {
  const chains = [...new Set(saved.match(/^:AMBIT_[A-Z_]+/gm) ?? [])].map((c) => c.slice(1)).sort();
  const remove = `bash ${script('remove.sh')}`;
  if (chains.length === 0) {
    const meaning = mode.mode === 'fail-closed' ? 'nothing is captured until ambitd starts and applies them' : mode.summary;
    return skip(`ambitd is not running (${why}) and no ambit rules are installed: ${meaning}`);
  }
  const installed = `ambit's rules (${chains.join(', ')})`;
  if (mode.mode !== 'fail-closed')
    return fail(
      `${installed} are installed but ambitd is not running, and ${mode.mode === 'fail-open' ? 'capture.failOpen is true' : 'capture.enabled is false'}: enrolled services' mesh connections are redirected to a port nobody listens on`,
      `start ambitd, or remove the rules: ${remove}`,
    );
  const unhooked = HOOKS.filter((h) => chains.includes(h.chain) && !h.jump.test(saved));
  if (unhooked.length > 0)
    return fail(
      `ambitd is not running and ${unhooked.map((h) => `nothing in ${h.hook} jumps to ${h.chain}`).join(', ')}: enrolled services' traffic is not held back (the host does not fail closed)`,
      `start ambitd, which puts the jumps back; or remove what is left: ${remove}`,
    );
  const redirects = (saved.match(/^-A AMBIT_(OUTPUT|PREROUTING) .*-j REDIRECT /gm) ?? []).length;
  const strict = (saved.match(/^-A AMBIT_INBOUND .*-j REJECT /gm) ?? []).length;
  return ok(
    `ambitd is not running (${why}); failing closed, ${installed} are in place: ${redirects} capture redirects to its ports (refused while closed, queued while systemd holds them) and ${strict} STRICT port rejects`,
  );
}

async function withoutDaemon(ctx: DoctorContext, signal: AbortSignal, why: string): Promise<CheckResult> {
  const saved = await runProbe('iptables-save', [], signal);
  if (saved.code !== 0) return fail(`iptables-save failed: ${saved.stderr.trim()}`, 'run iptables-save by hand to see why');
  return judgeRulesWithoutDaemon(failMode(ctx.config.capture), saved.stdout, why);
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
      if (reply.status !== 200) return withoutDaemon(ctx, signal, `/config_dump answered HTTP ${reply.status}`);
      dump = reply.body;
    } catch (err) {
      return withoutDaemon(ctx, signal, errorText(err));
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
