/**
 * The plain reverse proxy bench/waypoint compares the waypoint against:
 * haproxy in HTTP mode on its own host, keep-alive both ways, no TLS, no
 * logging, one thread (Node's waypoint has one event loop too).
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Topology } from '../../test/helpers/netns.js';

export const HAPROXY_HINT = 'haproxy is not installed: apt-get install -y haproxy';

export function haveHaproxy(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).error === undefined;
}

/** What haproxy answers for a `haproxy -v` first line, for the table's description. */
export function haproxyVersion(): string {
  return /HAProxy version (\S+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'unknown';
}

export interface Endpoint {
  host: string;
  port: number;
}

/** Starts haproxy in `host`'s namespace, listening on `listen` and proxying to `backend`; returns its pid (it dies with the topology). */
export async function startHaproxy(topo: Topology, host: string, dir: string, listen: Endpoint, backend: Endpoint): Promise<number | undefined> {
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  option http-keep-alive',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  timeout http-keep-alive 60s',
      'frontend bench',
      `  bind ${listen.host}:${listen.port}`,
      '  default_backend origin',
      'backend origin',
      `  server origin ${backend.host}:${backend.port}`,
      '',
    ].join('\n'),
  );
  // -db: stay in the foreground, so `ip netns exec` (which execs in place) leaves haproxy's pid as the child's.
  return topo.spawn(host, 'haproxy', ['-db', '-f', config], { stdio: 'ignore' }).pid;
}
