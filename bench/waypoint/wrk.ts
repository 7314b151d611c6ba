/**
 * bench/waypoint's load generator: wrk (C, epoll), one thread holding a fixed
 * number of keep-alive HTTP/1.1 connections for a fixed time. It is a native
 * program so that the client takes as little as possible of the two cores the
 * proxies are measured on, and it can run as an enrolled uid (setpriv) so
 * that ambit captures it like any service.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecResult } from '../../test/helpers/netns.js';

export const WRK_HINT = 'wrk is not installed: apt-get install -y wrk';
const REPORT_SCRIPT = fileURLToPath(new URL('../../../bench/waypoint/wrk-report.lua', import.meta.url));

export function haveWrk(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** What one wrk run measured (the JSON line of wrk-report.lua). Latencies in microseconds. */
export interface WrkResult {
  requests: number;
  durationUs: number;
  /** Socket errors by kind, and responses that were not 2xx/3xx (`status`). */
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export const errorCount = (r: WrkResult): number => r.connect + r.read + r.write + r.status + r.timeout;
export const errorKinds = (r: WrkResult): string =>
  (['connect', 'read', 'write', 'status', 'timeout'] as const)
    .filter((k) => r[k] > 0)
    .map((k) => `${k} ${r[k]}`)
    .join(', ');

/** How a path runs a command on the client host (as root, or as the enrolled uid). */
export type Runner = (cmd: string, args: string[], timeoutMs: number) => Promise<ExecResult>;

export async function runWrk(run: Runner, url: string, o: { seconds: number; concurrency: number }): Promise<WrkResult> {
  const args = ['-t1', `-c${o.concurrency}`, `-d${o.seconds}s`, '--timeout', '5s', '-s', REPORT_SCRIPT, url];
  const r = await run('wrk', args, (o.seconds + 30) * 1000);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
  if (r.code !== 0 || !line) throw new Error(`wrk ${url}: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.code ?? r.signal}`}`);
  return JSON.parse(line) as WrkResult;
}
