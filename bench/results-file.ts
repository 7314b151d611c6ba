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
