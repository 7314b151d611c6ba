/**
 * Rendering for `-o table|json|yaml`: tables in kubectl's borderless style for
 * people, JSON and YAML for scripts (YAML output re-applies unchanged).
 */
import { InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import { UsageError } from '../core/errors.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'json' || value === 'yaml' || value === 'wide') return value === 'wide' ? 'table' : value;
  throw new UsageError(`unknown output format ${JSON.stringify(value)}: use table, json or yaml`);
}

/**
 * Every command's `-o, --output`: the formats it prints, checked while the command
 * line is parsed, so an unknown one is a usage error (exit 2) before anything runs.
 * `wide` is kubectl's spelling of the table some scripts use; it is accepted wherever
 * a table is, without being offered.
 */
export function outputOption(formats: readonly [string, ...string[]]): Option {
  const accepted = formats.includes('table') ? [...formats, 'wide'] : formats;
  return (
    new Option('-o, --output <format>', 'output format')
      .default(formats[0])
      // The choices show in --help and in shell completion; the parser below is what checks, with ambit's message.
      .choices(formats)
      .argParser((value: string) => {
        if (!accepted.includes(value)) throw new InvalidArgumentError(`unknown output format ${JSON.stringify(value)}: use ${orList(formats)}`);
        return value;
      })
  );
}

function orList(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} or ${items.at(-1)!}`;
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

export function renderTable(head: string[], rows: string[][]): string {
  // Loaded on first use so that `ambit --help` does not pay for it.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof import('cli-table3');
  const table = new Table({ head, chars: BORDERLESS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
  table.push(...rows);
  return `${table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')}\n`;
}

export async function renderYaml(docs: unknown[]): Promise<string> {
  const { stringify } = await import('yaml');
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * kubectl's List, the one shape every list the CLI prints as JSON or YAML has
 * (`ambit get`, `node list`, `waypoint list`, `tunnels`, `certs`): scripts read
 * `.items` everywhere, and `ambit apply -f` unwraps it (core/config/list.ts).
 */
export function listOf(items: readonly unknown[]): { apiVersion: 'v1'; kind: 'List'; items: readonly unknown[] } {
  return { apiVersion: 'v1', kind: 'List', items };
}

/** One value (an object, or a List) as `-o json` or `-o yaml`. */
export async function renderData(value: unknown, format: 'json' | 'yaml'): Promise<string> {
  return format === 'json' ? renderJson(value) : renderYaml([value]);
}

/** kubectl-style age: 5s, 3m, 2h, 4d. */
export function age(since: string | number | undefined, now = Date.now()): string {
  if (since === undefined) return '-';
  const ms = now - (typeof since === 'number' ? since : Date.parse(since));
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function labelList(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

/** Bytes in binary units: 512B, 1.5KiB, 3.2MiB, 1.05GiB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}MiB`;
  return `${(n / 1024 ** 3).toFixed(2)}GiB`;
}
