/** `ambit analyze`'s text, one finding a line as istioctl analyze prints them, the fix on the next. */
import { resourceText, type Finding } from './findings.js';

export function renderFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No issues found.\n';
  return findings
    .map((f) => {
      const where = f.location ? ` ${f.location.file}${f.location.line !== undefined ? `:${f.location.line}` : ''}` : '';
      return `${f.severity} [${f.code}] (${resourceText(f.resource)}${where}) ${f.message}\n    fix: ${f.fix}\n`;
    })
    .join('');
}
