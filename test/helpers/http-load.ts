/**
 * Runs test/e2e/fixtures/http-load.js inside a mesh host as a given uid (an
 * enrolled user, so iptables captures its connections) and returns its report.
 */
import { fileURLToPath } from 'node:url';
import type { Mesh } from './mesh.js';

const LOAD = fileURLToPath(new URL('../e2e/fixtures/http-load.js', import.meta.url));

export interface LoadResult {
  statuses: Record<string, number>;
  /** Response bodies (first 100 characters) and how often each came back. */
  bodies: Record<string, number>;
  /** Requests that got no response, by error code. */
  errors: Record<string, number>;
  durationsMs: number[];
  /** From the first request sent to the last one sent. */
  spanMs?: number;
}

export async function httpLoad(
  mesh: Mesh,
  host: string,
  uid: number,
  url: string,
  count: number,
  concurrency: number,
  headers: string[] = [],
): Promise<LoadResult> {
  const r = await mesh.asUser(host, uid, process.execPath, [LOAD, url, String(count), String(concurrency), ...headers], 120_000);
  if (r.code !== 0) throw new Error(`http-load ${url}: ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadResult;
}
