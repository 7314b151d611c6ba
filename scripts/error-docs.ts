/**
 * docs/errors.md, rendered from core/error-codes.ts, so the operator doc can
 * never disagree with the registry: `npm run docs:errors` writes it and
 * test/unit/error-codes.test.ts fails when the file is not this text.
 */
import { COMPONENTS, ERROR_CODES, PASSED_THROUGH, type Component, type ErrorCodeInfo } from '../core/error-codes.js';

/** Where the doc lives, from the repository root. */
export const ERROR_DOCS_PATH = 'docs/errors.md';

const INTRO = `# ambit error codes

<!-- Generated from core/error-codes.ts by \`npm run docs:errors\`: edit that file, not this one. -->

Every error ambit raises carries a stable code: scripts, alerts and log searches may match
on it, and no code is ever renamed. Where to see it:

- \`ambit\` prints \`error: <what is wrong and what to do>\`, and the code with \`--debug\`
  (\`error: cannot reach Redis at ... [EREDIS_UNREACHABLE]\`). It exits 2 when the command line or
  the input it names is wrong (usage, bad flag values, documents or settings that do not
  validate: nothing was changed) and 1 when a well-formed command fails.
- ambitd and ambit-waypoint log JSON lines (pino) with the code in \`err.code\` or \`code\`:
  \`journalctl -u ambitd -o cat | grep EHBONE_\`.
- Metrics name failures by code in their \`reason\` label (\`ambit_connect_failures_total\`).

Codes are grouped by the part of ambit that reports them. The last table lists codes of the
kernel, Node and libraries that ambit passes on as it got them.
`;

/** Table cells hold one line; a `|` would end the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function section(component: Component): string {
  const rows = (Object.entries(ERROR_CODES) as [string, ErrorCodeInfo][])
    .filter(([, info]) => info.component === component)
    .map(([code, info]) => `| \`${code}\` | ${cell(info.meaning)} | ${cell(info.action)} |`);
  return [`## ${COMPONENTS[component]}`, '', '| code | meaning | what to do |', '|---|---|---|', ...rows, ''].join('\n');
}

function passedThrough(): string {
  const rows = Object.entries(PASSED_THROUGH).map(([code, info]) => `| \`${code}\` | ${cell(info.from)} | ${cell(info.handling)} |`);
  return [
    '## Passed through from the kernel, Node and libraries',
    '',
    "Not ambit's codes: ambit checks for them, or reports them unchanged (often as the `cause` of one of the codes above).",
    '',
    '| code | from | what ambit does |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

export function renderErrorDocs(): string {
  const components = Object.keys(COMPONENTS) as Component[];
  return [INTRO, ...components.map(section), passedThrough()].join('\n');
}
