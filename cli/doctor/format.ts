/** The doctor report: one aligned line per check, a `fix:` line under each WARN and FAIL, and a closing count. */
import type { CheckReport, CheckStatus } from './check.js';

export function renderReport(reports: readonly CheckReport[]): string {
  const width = Math.max(...reports.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix && (r.status === 'WARN' || r.status === 'FAIL')) lines.push(`      ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  lines.push('', summary(reports));
  return `${lines.join('\n')}\n`;
}

export function summary(reports: readonly CheckReport[]): string {
  const count = (s: CheckStatus) => reports.filter((r) => r.status === s).length;
  return `${reports.length} checks: ${count('OK')} OK, ${count('WARN')} WARN, ${count('FAIL')} FAIL, ${count('SKIP')} SKIP`;
}

/** What -o json prints: the verdict and every check with its fix and duration. */
export function reportJson(reports: readonly CheckReport[]): { ok: boolean; summary: string; checks: CheckReport[] } {
  return { ok: !failed(reports), summary: summary(reports), checks: [...reports] };
}

export function failed(reports: readonly CheckReport[]): boolean {
  return reports.some((r) => r.status === 'FAIL');
}
