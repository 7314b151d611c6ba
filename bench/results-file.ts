/**
 * bench/RESULTS.md: each benchmark owns one `## heading` section and replaces
 * only that one, so benches run at different times keep each other's tables.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';

export const RESULTS = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

/** Replaces the `## ${title}` section (up to the next `## ` heading) or appends it. */
export async function writeSection(title: string, body: string, file = RESULTS): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '# Benchmark results\n');
  const heading = `## ${title}`;
  const section = `${heading}\n\n${body.trim()}\n`;
  const start = text.indexOf(`${heading}\n`);
  if (start === -1) return writeFile(file, `${text.trimEnd()}\n\n${section}`);
  const next = text.indexOf('\n## ', start + heading.length);
  const rest = next === -1 ? '' : `\n${text.slice(next + 1)}`;
  await writeFile(file, `${text.slice(0, start)}${section}${rest}`);
}

/** The machine a result was measured on, for the line above each table. */
export function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (nproc), ${cpu}, kernel ${release()}, Node ${process.version}`;
}

export const loadAverage = (): string => loadavg()[0]!.toFixed(2);

export interface BenchReport {
  /** loadAverage() when the bench started. */
  loadBefore: string;
  command: string;
  /** The bench's source file, e.g. bench/l4.ts. */
  source: string;
  /** What was measured and how: topology, paths, load. */
  description: string;
  table: string;
  /** What follows the table: per-round values, notes. */
  after: string;
}

/**
 * Prints a bench's table and, when `write`, replaces its section: a first line saying when, on what,
 * how busy the shared machine was and the command, then the description, the table and what follows it.
 */
export async function publish(title: string, r: BenchReport, write: boolean): Promise<void> {
  console.log(`\n${r.table}\n`);
  const measuredOn = `${new Date().toISOString().slice(0, 10)}, ${machine()}, load average ${r.loadBefore} before and ${loadAverage()} after (shared machine), \`${r.command}\` (${r.source}).`;
  if (write) await writeSection(title, [measuredOn, '', r.description, '', r.table, '', r.after].join('\n'));
}
