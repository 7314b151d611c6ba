/**
 * Runs the real `ambit` CLI (bin/ambit.js → dist/) as a child process, the way
 * a user or a script would, against a store URL.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const AMBIT = fileURLToPath(new URL('../../../bin/ambit.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function ambit(args: string[], opts: { redis?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, AMBIT_LOG_LEVEL: 'silent', ...opts.env };
  if (opts.redis) env.AMBIT_REDIS_URL = opts.redis;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AMBIT, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}
