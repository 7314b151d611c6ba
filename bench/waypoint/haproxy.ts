/**
 * The haproxy peers bench/waypoint compares the waypoint against, each
 * haproxy one thread (Node's waypoint has one event loop too), no logging:
 *
 * - `haproxy`: a plain reverse proxy on its own host, HTTP mode, keep-alive
 *   both ways, no TLS. Cheaper than the waypoint path by construction, which
 *   does mutual TLS twice.
 * - `haproxy mTLS`: the waypoint path hop for hop, so the ratio is like for
 *   like: haproxy on the client's host (TCP mode, plaintext in, mutual TLS
 *   out, in ambitd's place), haproxy on the proxy host (HTTP mode, mutual TLS
 *   in and out, in the waypoint's), haproxy on the origin's host (TCP mode,
 *   mutual TLS in, plaintext out). Four TLS ends, P-256 keys from one CA, as
 *   the mesh has; what it lacks is the mesh's identity checks and HTTP/2.
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

const GLOBAL = ['global', '  nbthread 1', '  maxconn 4096', 'defaults', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s'];

/** Starts haproxy with `config` in `host`'s namespace; returns its pid (it dies with the topology). */
async function start(topo: Topology, host: string, dir: string, name: string, config: string[]): Promise<number | undefined> {
  const file = join(dir, `haproxy-${name}.cfg`);
  await writeFile(file, [...GLOBAL, ...config, ''].join('\n'));
  // -db: stay in the foreground, so `ip netns exec` (which execs in place) leaves haproxy's pid as the child's.
  return topo.spawn(host, 'haproxy', ['-db', '-f', file], { stdio: 'ignore' }).pid;
}

/** The plain HTTP reverse proxy on `host`, listening on `listen` and proxying to `backend`. */
export function startHaproxy(topo: Topology, host: string, dir: string, listen: Endpoint, backend: Endpoint): Promise<number | undefined> {
  return start(topo, host, dir, 'plain', [
    '  mode http',
    '  option http-keep-alive',
    '  timeout http-keep-alive 60s',
    'frontend bench',
    `  bind ${listen.host}:${listen.port}`,
    '  default_backend origin',
    'backend origin',
    `  server origin ${backend.host}:${backend.port}`,
  ]);
}

/** A CA and one certificate from it (P-256), as haproxy wants them: the CA in one file, certificate and key in another. */
function makeCerts(dir: string): { ca: string; crt: string } {
  const ca = join(dir, 'bench-ca.pem');
  const crt = join(dir, 'bench-node.pem');
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.error?.message ?? r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'bench-ca.key', '-out', ca, '-days', '2', '-subj', '/CN=bench-ca']);
  run(['req', ...ec, '-keyout', 'bench-node.key', '-out', 'bench-node.csr', '-subj', '/CN=bench-node']);
  run(['x509', '-req', '-in', 'bench-node.csr', '-CA', ca, '-CAkey', 'bench-ca.key', '-CAcreateserial', '-out', 'bench-node.crt', '-days', '2']);
  run(['pkey', '-in', 'bench-node.key', '-out', 'bench-node.key.pem']);
  spawnSync('sh', ['-c', `cat bench-node.crt bench-node.key.pem > ${crt}`], { cwd: dir });
  return { ca, crt };
}

export interface HaproxyMesh {
  /** Where the client on the first host dials (plain HTTP). */
  url: string;
  procs: { name: string; pid: number | undefined }[];
}

/**
 * The three haproxies of the `haproxy mTLS` path on `client`, `proxy` and
 * `origin`'s hosts; `tlsPorts` are the two mutual-TLS hops' ports.
 */
export async function startHaproxyMesh(
  topo: Topology,
  dir: string,
  hosts: { client: string; proxy: string; origin: string },
  origin: Endpoint,
  tlsPorts: [number, number],
  listenPort: number,
): Promise<HaproxyMesh> {
  const { ca, crt } = makeCerts(dir);
  const tls = `ssl crt ${crt} ca-file ${ca} verify required`;
  const proxy = topo.host(hosts.proxy).address;
  const last = topo.host(hosts.origin).address;
  const a = await start(topo, hosts.client, dir, 'client', [
    '  mode tcp',
    'frontend out',
    `  bind 127.0.0.1:${listenPort}`,
    '  default_backend proxy',
    'backend proxy',
    `  server proxy ${proxy}:${tlsPorts[0]} ${tls}`,
  ]);
  const c = await start(topo, hosts.proxy, dir, 'proxy', [
    '  mode http',
    '  option http-keep-alive',
    '  timeout http-keep-alive 60s',
    'frontend in',
    `  bind ${proxy}:${tlsPorts[0]} ${tls}`,
    '  default_backend origin',
    'backend origin',
    `  server origin ${last}:${tlsPorts[1]} ${tls}`,
  ]);
  const b = await start(topo, hosts.origin, dir, 'origin', [
    '  mode tcp',
    'frontend in',
    `  bind ${last}:${tlsPorts[1]} ${tls}`,
    '  default_backend origin',
    'backend origin',
    `  server origin ${origin.host}:${origin.port}`,
  ]);
  return {
    url: `http://127.0.0.1:${listenPort}/`,
    procs: [
      { name: `haproxy ${hosts.client}`, pid: a },
      { name: `haproxy ${hosts.proxy}`, pid: c },
      { name: `haproxy ${hosts.origin}`, pid: b },
    ],
  };
}
