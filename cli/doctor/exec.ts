/** Runs a read-only probe command (iptables, check.sh) and hands back its exit code and output, never throwing. */
import { execFile } from 'node:child_process';

export interface ProbeOutput {
  /** Exit code; null when the command was killed (the check's deadline) or could not start. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command is not installed (ENOENT). */
  missing: boolean;
}

export function runProbe(command: string, args: readonly string[], signal: AbortSignal): Promise<ProbeOutput> {
  return new Promise((resolve) => {
    execFile(command, args, { signal, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        stdout: String(stdout),
        stderr: String(stderr || (e && typeof e.code !== 'number' ? e.message : '')),
        missing: e?.code === 'ENOENT',
      });
    });
  });
}
