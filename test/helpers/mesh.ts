/**
 * A whole mesh on netns hosts, for e2e tests: Redis on a "store" host, a CA,
 * one ambitd per host (joined with a one-time token, the first one also
 * running the signer), all started as real processes with the real CLI.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTopology, waitForOutput, type ExecResult, type Topology } from './netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AMBIT = join(ROOT, 'bin/ambit.js');
const AMBITD = join(ROOT, 'bin/ambitd.js');

export interface Mesh {
  topo: Topology;
  redisUrl: string;
  dir: string;
  /** Runs the ambit CLI in a host's namespace against the mesh's store. */
  ambit(host: string, args: string[], input?: string): Promise<ExecResult>;
  /** Runs a command in a host as a given uid (an "enrolled service user"). */
  asUser(host: string, uid: number, cmd: string, args: string[], timeoutMs?: number): Promise<ExecResult>;
  /** GET on a daemon's admin (15000) or metrics (15020) port, from inside its host. */
  admin(host: string, path: string, port?: number): Promise<string>;
  daemons: Map<string, ChildProcess>;
  /** Everything a host's daemon has logged so far (JSON lines). */
  logs(host: string): string;
  startDaemon(host: string): Promise<ChildProcess>;
  /** Stops Redis (its data is kept on disk) and starts it again on the same address. */
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  stopDaemon(host: string): Promise<void>;
  /** SIGKILL, as a crash would: no drain, capture rules left behind. */
  killDaemon(host: string): Promise<void>;
  destroy(): Promise<void>;
}

export interface MeshOptions {
  /** Node flags for every ambitd (before the script), e.g. --cpu-prof for a bench. */
  daemonNodeArgs?: string[];
  /** A command that execs the daemon (e.g. setpriv dropping capabilities), before node and its arguments. */
  daemonWrapper?: string[];
}

export async function createMesh(hosts: string[], options: MeshOptions = {}): Promise<Mesh> {
  const topo = await createTopology({ hosts: ['store', ...hosts] });
  const dir = mkdtempSync(join(tmpdir(), 'ambit-mesh-'));
  const daemons = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  const store = topo.host('store');
  const redisUrl = `redis://${store.address}:6379`;
  // `ca init --ca-dir <dir>/ca` makes the operator key in <dir>/operator; every later CLI write signs with it.
  const env = {
    ...process.env,
    AMBIT_REDIS_URL: redisUrl,
    AMBIT_OPERATOR_DIR: join(dir, 'operator'),
    AMBIT_LOG_LEVEL: process.env.AMBIT_TEST_LOG_LEVEL ?? 'warn',
  };

  const mesh: Mesh = {
    topo,
    redisUrl,
    dir,
    daemons,
    logs: (host) => logs.get(host) ?? '',
    ambit: (host, args, input) => topo.exec(host, process.execPath, [AMBIT, ...args], { env, ...(input !== undefined ? { input } : {}), timeoutMs: 30_000 }),
    asUser: (host, uid, cmd, args, timeoutMs = 15_000) =>
      topo.exec(host, 'setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', cmd, ...args], { timeoutMs }),
    admin: async (host, path, port = 15000) => {
      const r = await topo.exec(host, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}${path}`]);
      if (r.code !== 0) throw new Error(`admin ${host}${path}: ${r.stderr}`);
      return r.stdout;
    },
    startDaemon: async (host) => {
      const h = topo.host(host);
      const config = join(dir, `${host}.yaml`);
      // Non-mesh DNS goes nowhere: tests only resolve mesh names, and nothing may leave the namespaces.
      writeFileSync(
        config,
        `node: {name: ${host}, address: ${h.address}}\nidentity: {dir: ${join(dir, host)}}\ndns: {upstreams: ["127.0.0.1:9"]}\ndrainTimeout: 2s\nlogLevel: info\n`,
      );
      const token = await mesh.ambit('store', ['node', 'token', 'create', '--node', host, '--ttl', '10m']);
      if (token.code !== 0) throw new Error(`token for ${host}: ${token.stderr}`);
      const first = daemons.size === 0;
      const args = [
        ...(options.daemonNodeArgs ?? []),
        AMBITD,
        '--config',
        config,
        '--redis',
        redisUrl,
        '--token',
        token.stdout.trim(),
        ...(first ? ['--ca', '--ca-dir', join(dir, 'ca')] : []),
      ];
      const [command, ...wrapperArgs] = [...(options.daemonWrapper ?? []), process.execPath];
      const child = topo.spawn(host, command, [...wrapperArgs, ...args], { env: { ...env, AMBIT_LOG_LEVEL: 'info' } });
      daemons.set(host, child);
      // Always read the pipes: a daemon blocked on a full stdout pipe would stall its event loop.
      logs.set(host, '');
      const collect = (chunk: Buffer) => logs.set(host, (logs.get(host) ?? '') + chunk.toString());
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      await waitForOutput(child, /ambitd ready/, 60_000);
      return child;
    },
    stopDaemon: async (host) => {
      const child = daemons.get(host);
      if (!child || child.exitCode !== null || child.signalCode !== null) {
        daemons.delete(host);
        return;
      }
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      daemons.delete(host);
    },
    killDaemon: async (host) => {
      const child = daemons.get(host);
      daemons.delete(host);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    stopRedis: async () => {
      const r = await topo.exec('store', 'redis-cli', ['-h', store.address, '-p', '6379', 'shutdown']);
      // redis-cli reports the dropped connection of a successful shutdown as an error.
      if (r.code !== 0 && !/closed|refused|reset/i.test(r.stderr + r.stdout)) throw new Error(`redis shutdown: ${r.stderr}`);
    },
    startRedis: async () => {
      const redis = topo.spawn('store', 'redis-server', [
        '--bind',
        store.address,
        '--port',
        '6379',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--protected-mode',
        'no',
        '--dir',
        dir,
      ]);
      await waitForOutput(redis, /Ready to accept connections/, 20_000);
      redis.stdout?.resume();
      redis.stderr?.resume();
    },
    destroy: async () => {
      for (const host of [...daemons.keys()]) await mesh.stopDaemon(host).catch(() => undefined);
      await topo.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await mesh.startRedis();
    const init = await mesh.ambit('store', ['ca', 'init', '--ca-dir', join(dir, 'ca')]);
    if (init.code !== 0) throw new Error(`ca init: ${init.stderr}`);
  } catch (err) {
    await mesh.destroy();
    throw err;
  }
  return mesh;
}
