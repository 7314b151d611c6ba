/**
 * A whole mesh on netns hosts, for e2e tests: Redis on a "store" host with
 * roles (`ambit store init`: the CLI acts as the operator, the signer as the
 * signer, each ambitd as its own node user), a CA, one ambitd per host (joined
 * with a one-time token, the first one also running the signer), all started
 * as real processes with the real CLI.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  /** redis-cli arguments that authenticate as the test's Redis administrator (CLIENT LIST, SHUTDOWN). */
  redisAdmin: string[];
  /** Credentials files: the operator's and the signer's (ambit store init), and each node's (its join). */
  credentials: { operator: string; signer: string; node(host: string): string };
  dir: string;
  /** Runs the ambit CLI in a host's namespace against the mesh's store. */
  ambit(host: string, args: string[], input?: string): Promise<ExecResult>;
  /** `ambit enroll SERVICE ...args` of a service on `host` at the host's address; throws when it fails. */
  enroll(host: string, args: string[]): Promise<void>;
  /** An HTTP server on host:port (the host's address) answering every request with `text`; resolves once it listens. */
  serveText(host: string, port: number, text: string): Promise<ChildProcess>;
  /** Runs a command in a host as a given uid (an "enrolled service user"). */
  asUser(host: string, uid: number, cmd: string, args: string[], timeoutMs?: number): Promise<ExecResult>;
  /** GET on a daemon's admin (15000) or metrics (15020) port, from inside its host. */
  admin(host: string, path: string, port?: number): Promise<string>;
  daemons: Map<string, ChildProcess>;
  /** Everything a host's daemon has logged so far (JSON lines). */
  logs(host: string): string;
  /**
   * `extraConfig`: YAML lines appended to this start's ambitd.yaml (e.g. `capture: {failOpen: true}`);
   * `wrapper`: this start's command that execs the daemon, instead of MeshOptions.daemonWrapper.
   */
  startDaemon(host: string, extraConfig?: string, options?: { wrapper?: string[] }): Promise<ChildProcess>;
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
  /** ambitd's drainTimeout (default 2s: most tests stop daemons and want it quick). */
  drainTimeout?: string;
}

export async function createMesh(hosts: string[], options: MeshOptions = {}): Promise<Mesh> {
  const topo = await createTopology({ hosts: ['store', ...hosts] });
  const dir = mkdtempSync(join(tmpdir(), 'ambit-mesh-'));
  const daemons = new Map<string, ChildProcess>();
  let signerHost: string | undefined;
  const logs = new Map<string, string>();
  const store = topo.host('store');
  const redisUrl = `redis://${store.address}:6379`;
  const storeDir = join(dir, 'store');
  const credentials = {
    operator: join(storeDir, 'operator.json'),
    signer: join(storeDir, 'signer.json'),
    node: (host: string) => join(dir, host, 'store-credentials.json'),
  };
  // Daemons get no credentials from the environment: each uses the node user its token makes.
  const daemonEnv: NodeJS.ProcessEnv = { ...process.env, AMBIT_REDIS_URL: redisUrl, AMBIT_LOG_LEVEL: 'info' };
  delete daemonEnv.AMBIT_REDIS_CREDENTIALS;
  // `ca init --ca-dir <dir>/ca` makes the operator key in <dir>/operator; every later CLI write signs with it.
  const env: NodeJS.ProcessEnv = {
    ...daemonEnv,
    AMBIT_REDIS_CREDENTIALS: credentials.operator,
    AMBIT_OPERATOR_DIR: join(dir, 'operator'),
    AMBIT_LOG_LEVEL: process.env.AMBIT_TEST_LOG_LEVEL ?? 'warn',
  };
  const adminPassword = randomBytes(16).toString('hex');
  const redisAdmin = ['--user', 'test-admin', '--pass', adminPassword, '--no-auth-warning'];
  let redis: ChildProcess | undefined;

  const mesh: Mesh = {
    topo,
    redisUrl,
    redisAdmin,
    credentials,
    dir,
    daemons,
    logs: (host) => logs.get(host) ?? '',
    ambit: (host, args, input) => topo.exec(host, process.execPath, [AMBIT, ...args], { env, ...(input !== undefined ? { input } : {}), timeoutMs: 30_000 }),
    enroll: async (host, args) => {
      const r = await mesh.ambit(host, ['enroll', ...args, '--node', host, '--address', topo.host(host).address]);
      if (r.code !== 0) throw new Error(`enroll ${args[0]}: ${r.stderr}`);
    },
    serveText: async (host, port, text) => {
      const server = topo.spawn(host, process.execPath, [
        '-e',
        `require('http').createServer((q, s) => s.end(${JSON.stringify(text)})).listen(${port}, '${topo.host(host).address}', () => console.log('listening'))`,
      ]);
      await waitForOutput(server, /listening/);
      return server;
    },
    asUser: (host, uid, cmd, args, timeoutMs = 15_000) =>
      topo.exec(host, 'setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', cmd, ...args], { timeoutMs }),
    admin: async (host, path, port = 15000) => {
      const r = await topo.exec(host, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}${path}`]);
      if (r.code !== 0) throw new Error(`admin ${host}${path}: ${r.stderr}`);
      return r.stdout;
    },
    startDaemon: async (host, extraConfig = '', startOptions = {}) => {
      const h = topo.host(host);
      const config = join(dir, `${host}.yaml`);
      // Non-mesh DNS goes nowhere: tests only resolve mesh names, and nothing may leave the namespaces.
      writeFileSync(
        config,
        `node: {name: ${host}, address: ${h.address}}\nidentity: {dir: ${join(dir, host)}}\ndns: {upstreams: ["127.0.0.1:9"]}\ndrainTimeout: ${options.drainTimeout ?? '2s'}\nlogLevel: info\n${extraConfig}`,
      );
      // A token only for the first start: a joined node restarts with what its join left, and a
      // token for a joined name is refused.
      const joined = existsSync(join(dir, host, 'node-key.pem'));
      const token = joined ? undefined : await mesh.ambit('store', ['node', 'token', 'create', '--node', host, '--ttl', '10m']);
      if (token && token.code !== 0) throw new Error(`token for ${host}: ${token.stderr}`);
      // The first daemon started runs the signer, and runs it again when it is restarted.
      signerHost ??= host;
      const first = signerHost === host;
      const args = [
        ...(options.daemonNodeArgs ?? []),
        AMBITD,
        '--config',
        config,
        '--redis',
        redisUrl,
        ...(token ? ['--token', token.stdout.trim()] : []),
        ...(first ? ['--ca', '--ca-dir', join(dir, 'ca'), '--ca-store-credentials', credentials.signer] : []),
      ];
      const [command, ...wrapperArgs] = [...(startOptions.wrapper ?? options.daemonWrapper ?? []), process.execPath];
      const child = topo.spawn(host, command, [...wrapperArgs, ...args], { env: daemonEnv });
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
      const r = await topo.exec('store', 'redis-cli', ['-h', store.address, '-p', '6379', ...redisAdmin, 'shutdown']);
      // redis-cli reports the dropped connection of a successful shutdown as an error.
      if (r.code !== 0 && !/closed|refused|reset/i.test(r.stderr + r.stdout)) throw new Error(`redis shutdown: ${r.stderr}`);
      if (redis && redis.exitCode === null && redis.signalCode === null) await new Promise((resolve) => redis!.once('exit', resolve));
    },
    startRedis: async () => {
      const aclfile = join(dir, 'users.acl');
      if (!existsSync(aclfile)) writeFileSync(aclfile, '');
      redis = topo.spawn('store', 'redis-server', [
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
        // The users ambit store init and the token minting create outlive a restart.
        '--aclfile',
        aclfile,
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
    // While the default user is still on: an administrator for the tests' redis-cli, then the roles.
    const admin = await topo.exec('store', 'redis-cli', [
      '-h',
      store.address,
      '-p',
      '6379',
      'acl',
      'setuser',
      'test-admin',
      'on',
      `>${adminPassword}`,
      '~*',
      '&*',
      '+@all',
    ]);
    if (admin.code !== 0 || !/OK/.test(admin.stdout)) throw new Error(`redis admin user: ${admin.stdout}${admin.stderr}`);
    const roles = await topo.exec('store', process.execPath, [AMBIT, 'store', 'init', '--dir', storeDir], {
      env: { ...env, AMBIT_REDIS_CREDENTIALS: '' },
      timeoutMs: 30_000,
    });
    if (roles.code !== 0) throw new Error(`store init: ${roles.stderr}`);
    const init = await mesh.ambit('store', ['ca', 'init', '--ca-dir', join(dir, 'ca')]);
    if (init.code !== 0) throw new Error(`ca init: ${init.stderr}`);
  } catch (err) {
    await mesh.destroy();
    throw err;
  }
  return mesh;
}
