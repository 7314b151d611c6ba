/**
 * What a bench reads about the processes carrying its traffic, from /proc:
 * CPU time and syscall counts survive a busy shared host where wall-clock
 * rates do not, and RSS says what the proxy costs in memory.
 */
import { readFile } from 'node:fs/promises';

/** VmRSS in kB, or undefined once the process is gone. */
export async function vmRssKb(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb);
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  const stat = pid === undefined ? '' : await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** read + write syscalls a process has made so far (/proc/<pid>/io): counts a busy host does not blur. */
export async function syscalls(pid: number | undefined): Promise<number> {
  const io = pid === undefined ? '' : await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  return Number(/syscr: (\d+)/.exec(io)?.[1] ?? NaN) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? NaN);
}

/** Peak VmRSS (kB) of each named process while `work` runs, sampled every 100 ms into `peaks`. */
export async function peakRss<T>(pids: ReadonlyMap<string, number | undefined>, peaks: Record<string, number>, work: () => Promise<T>): Promise<T> {
  const sample = async (): Promise<void> => {
    for (const [name, pid] of pids) {
      const kb = await vmRssKb(pid);
      if (kb !== undefined) peaks[name] = Math.max(peaks[name] ?? 0, kb);
    }
  };
  const timer = setInterval(() => void sample(), 100);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** CPU seconds and read/write syscalls each process spent while `work` ran (same order as `pids`). */
export async function usageDuring<T>(
  pids: ReadonlyArray<number | undefined>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: number[]; syscalls: number[] }> {
  const snapshot = (): Promise<Array<[number, number]>> =>
    Promise.all(pids.map(async (pid) => [await cpuSeconds(pid), await syscalls(pid)] as [number, number]));
  const before = await snapshot();
  const result = await work();
  const after = await snapshot();
  return { result, cpu: after.map(([c], i) => c - before[i]![0]), syscalls: after.map(([, s], i) => s - before[i]![1]) };
}
