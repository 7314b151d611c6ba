/**
 * What every `ambit doctor` check is: a named probe of one thing on this host
 * that ends in OK, WARN or FAIL (with the fix an operator should apply), or
 * SKIP when something it depends on is not there to be checked.
 */
import type { DoctorContext } from './context.js';

export type CheckStatus = 'OK' | 'WARN' | 'FAIL' | 'SKIP';

export interface CheckResult {
  status: CheckStatus;
  detail: string;
  /** What to do about a WARN or FAIL, as a command or a setting to change. */
  fix?: string;
}

export interface Check {
  /** The name printed in the report and accepted by `needs`: short, lower-case, no spaces. */
  name: string;
  /** Checks that must end OK or WARN first; otherwise this one is a SKIP naming them. */
  needs?: readonly string[];
  /** Its own deadline, for checks that run external tools (several iptables calls take seconds on a busy host). */
  timeoutMs?: number;
  /** Must give up when `signal` aborts (the check's deadline passed). */
  run(ctx: DoctorContext, signal: AbortSignal): Promise<CheckResult>;
}

export interface CheckReport extends CheckResult {
  name: string;
  durationMs: number;
}

export const ok = (detail: string): CheckResult => ({ status: 'OK', detail });
export const warn = (detail: string, fix: string): CheckResult => ({ status: 'WARN', detail, fix });
export const fail = (detail: string, fix: string): CheckResult => ({ status: 'FAIL', detail, fix });
export const skip = (detail: string): CheckResult => ({ status: 'SKIP', detail });

/** OK, WARN or FAIL as judged elsewhere; the fix is kept only where there is something to fix. */
export function verdict(status: Exclude<CheckStatus, 'SKIP'>, detail: string, fix: string): CheckResult {
  return status === 'OK' ? ok(detail) : { status, detail, fix };
}

/** The message of anything thrown, on one line. */
export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}
