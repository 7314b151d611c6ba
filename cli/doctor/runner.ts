/**
 * Runs the checks, each as soon as the checks it needs are done, so that
 * independent probes overlap and a host that answers nothing still gets its
 * report in bounded time: every check has its own deadline, and a check whose
 * dependency did not pass is a SKIP that says why, not one more FAIL.
 */
import type { DoctorContext } from './context.js';
import { errorText, fail, skip, type Check, type CheckReport, type CheckResult } from './check.js';

export interface RunOptions {
  /** How long one check may take (default 3 s). */
  checkTimeoutMs?: number;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 3000;

/** Reports in the order of `checks`, whatever order they finished in. */
export async function runChecks(checks: readonly Check[], ctx: DoctorContext, options: RunOptions = {}): Promise<CheckReport[]> {
  const timeoutMs = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const byName = new Map(checks.map((c) => [c.name, c]));
  for (const check of checks) {
    for (const need of check.needs ?? []) {
      if (!byName.has(need)) throw new Error(`doctor check ${check.name} needs unknown check ${need}`);
    }
  }
  const started = new Map<string, Promise<CheckReport>>();
  const start = (check: Check): Promise<CheckReport> => {
    let report = started.get(check.name);
    if (!report) {
      report = afterNeeds(check, (name) => start(byName.get(name)!)).then((blocked) => blocked ?? runOne(check, ctx, check.timeoutMs ?? timeoutMs));
      started.set(check.name, report);
    }
    return report;
  };
  return Promise.all(checks.map(start));
}

/** A SKIP report when a needed check did not pass; undefined when the check may run. */
async function afterNeeds(check: Check, reportOf: (name: string) => Promise<CheckReport>): Promise<CheckReport | undefined> {
  const needs = await Promise.all((check.needs ?? []).map(reportOf));
  const blocked = needs.filter((r) => r.status === 'FAIL' || r.status === 'SKIP');
  if (blocked.length === 0) return undefined;
  const why = blocked.map((r) => `${r.name} ${r.status === 'FAIL' ? 'failed' : 'was skipped'}`).join(', ');
  return { name: check.name, durationMs: 0, ...skip(`needs ${why}`) };
}

async function runOne(check: Check, ctx: DoctorContext, timeoutMs: number): Promise<CheckReport> {
  const began = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(
        fail(
          `no result within ${timeoutMs} ms`,
          `something ${check.name} waits on is hanging; run the probe by hand (see the other checks) and look at the host's load`,
        ),
      );
    }, timeoutMs);
  });
  const result = await Promise.race([
    check
      .run(ctx, controller.signal)
      .catch((err: unknown) => fail(`the check itself failed: ${errorText(err)}`, 'this is a bug in ambit doctor: report it with this line')),
    deadline,
  ]);
  clearTimeout(timer);
  controller.abort();
  return { name: check.name, durationMs: Math.round(performance.now() - began), ...result };
}
