/**
 * Private Redis processes for one test file, each on its own loopback port with
 * its own temp dir, cleaned up even when a test crashes: a redis-server (append-only
 * persistence so restart() keeps the data, like a real Redis restart; optionally an
 * ACL file, a config file, or TLS only) and a redis-sentinel watching one of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';

export interface RedisTlsFiles {
  /** PEM files: the server's certificate and key, and the CA clients verify it with. */
  cert: string;
  key: string;
  ca: string;
}

export interface RedisOptions {
  /** Require this password (requirepass), to test authenticated connections. */
  password?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** How long to wait for PING to answer (default 10000 ms). */
  startTimeoutMs?: number;
  /** ACL file lines (`user <name> <rules…>`), written to <dir>/users.acl and served with --aclfile. */
  acl?: string[];
  /** Start from <dir>/redis.conf instead of arguments, so CONFIG REWRITE works (a Sentinel failover uses it). */
  configFile?: boolean;
  /** Serve TLS only (no plaintext port) with these files; the URL is then rediss://. */
  tls?: RedisTlsFiles;
}

export interface RedisServer {
  /** redis://127.0.0.1:<port> (with the password when one was set), rediss:// with TLS. */
  url: string;
  port: number;
  /** 127.0.0.1:<port>, as Sentinel and INFO replication name it. */
  address: string;
  dir: string;
  /** Graceful shutdown (data is flushed to the AOF), then remove the dir. Idempotent. */
  stop(): Promise<void>;
  /** Graceful shutdown and start again on the same port with the same data. */
  restart(): Promise<void>;
  /** SIGKILL, like a crash; the dir stays so restart() can bring it back. */
  kill(): Promise<void>;
}

const REDIS_BIN = process.env.AMBIT_TEST_REDIS_SERVER ?? 'redis-server';
const SENTINEL_BIN = process.env.AMBIT_TEST_REDIS_SENTINEL ?? 'redis-sentinel';
const MISSING: Record<string, string> = {
  [REDIS_BIN]: 'redis-server not found; install redis-server: apt-get install redis-server',
  [SENTINEL_BIN]: 'redis-sentinel not found; install redis-sentinel: apt-get install redis-sentinel',
};

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ambit-redis-'));
  const listen = opts.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca]
    : ['--port', String(port)];
  let args = [
    ...listen,
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'no',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always', // kill() (a crash) then loses nothing: tests stay deterministic
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    ...(opts.password ? ['--requirepass', opts.password] : []),
    ...(opts.tls ? ['--tls-auth-clients', 'no'] : []),
    ...(opts.acl ? ['--aclfile', join(dir, 'users.acl')] : []),
    ...(opts.args ?? []),
  ];
  if (opts.acl) writeFileSync(join(dir, 'users.acl'), opts.acl.map((line) => `${line}\n`).join(''));
  if (opts.configFile) {
    writeFileSync(join(dir, 'redis.conf'), configText(args));
    args = [join(dir, 'redis.conf')];
  }
  const ping = (): Promise<void> => waitForPing(port, opts.password, opts.startTimeoutMs ?? 10_000, opts.tls?.ca);
  const proc = supervise(REDIS_BIN, args, dir, 'redis.log', ping);
  await proc.launch();
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    url: `${opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    port,
    address: `127.0.0.1:${port}`,
    dir,
    stop: proc.stop,
    async restart() {
      await proc.halt('SIGTERM'); // SIGTERM makes redis-server fsync the AOF before exiting
      await proc.launch();
    },
    kill: () => proc.halt('SIGKILL'),
  };
}

export interface SentinelOptions {
  /** The master's name (SENTINEL MONITOR <name>) and port on 127.0.0.1. */
  name: string;
  masterPort: number;
  /** The ACL user this sentinel uses on every server (sentinel auth-user / auth-pass). */
  authUser?: string;
  authPass?: string;
  /** The sentinel's own password (requirepass): what clients give as sentinelPassword. */
  password?: string;
  /** How long the master may be silent before it is down (default 1000 ms). */
  downAfterMs?: number;
}

export interface SentinelServer {
  port: number;
  address: string;
  dir: string;
  /** Graceful shutdown, then remove the dir. Idempotent. */
  stop(): Promise<void>;
}

/** One redis-sentinel with quorum 1: enough for SENTINEL FAILOVER, which needs no agreement. */
export async function startSentinel(opts: SentinelOptions): Promise<SentinelServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ambit-sentinel-'));
  const n = opts.name;
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode no',
    `dir ${dir}`,
    `logfile ${join(dir, 'sentinel.log')}`,
    `sentinel monitor ${n} 127.0.0.1 ${opts.masterPort} 1`,
    `sentinel down-after-milliseconds ${n} ${opts.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${n} 10000`,
    `sentinel parallel-syncs ${n} 1`,
    ...(opts.authUser ? [`sentinel auth-user ${n} ${opts.authUser}`] : []),
    ...(opts.authPass ? [`sentinel auth-pass ${n} ${opts.authPass}`] : []),
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
  ];
  // Sentinel rewrites its config file as it learns the topology, so it lives in the dir.
  writeFileSync(join(dir, 'sentinel.conf'), `${lines.join('\n')}\n`);
  const proc = supervise(SENTINEL_BIN, [join(dir, 'sentinel.conf')], dir, 'sentinel.log', () => waitForPing(port, opts.password, 10_000));
  await proc.launch();
  return { port, address: `127.0.0.1:${port}`, dir, stop: proc.stop };
}

/** `--key value…` arguments as redis.conf lines. */
function configText(args: string[]): string {
  const lines: string[][] = [];
  for (const a of args) {
    if (a.startsWith('--')) lines.push([a.slice(2)]);
    else lines.at(-1)!.push(a === '' ? '""' : a);
  }
  return `${lines.map((l) => l.join(' ')).join('\n')}\n`;
}

/** Starts, stops and reaps one server process; removes its dir on stop() and at process exit. */
function supervise(
  bin: string,
  args: string[],
  dir: string,
  logName: string,
  ready: () => Promise<void>,
): { launch: () => Promise<void>; halt: (signal: NodeJS.Signals) => Promise<void>; stop: () => Promise<void> } {
  let child: ChildProcess | undefined;
  let removed = false;
  const onExit = (): void => {
    child?.kill('SIGKILL');
    if (!removed) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await gone;
  };
  return {
    launch: async () => {
      const proc = spawn(bin, args, { stdio: 'ignore' });
      child = proc;
      const exited = new Promise<never>((_, reject) => {
        proc.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new Error(MISSING[bin] ?? `${bin} not found`) : err));
        proc.once('exit', (code, signal) => reject(new Error(`${bin} exited early (${signal ?? code}):\n${logTail(dir, logName)}`)));
      });
      exited.catch(() => undefined); // only meaningful while starting
      try {
        await Promise.race([ready(), exited]);
      } catch (err) {
        await halt('SIGKILL');
        throw err;
      }
    },
    halt,
    stop: async () => {
      await halt('SIGTERM');
      removed = true;
      rmSync(dir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Speaks just enough RESP to know the server is serving, without a client library. */
async function waitForPing(port: number, password: string | undefined, timeoutMs: number, ca?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const cmd = (password ? resp('AUTH', password) : '') + resp('PING');
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock: Socket = ca ? tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(ca) }) : createConnection({ port, host: '127.0.0.1' });
      let buf = '';
      sock.setTimeout(500, () => sock.destroy());
      sock.on(ca ? 'secureConnect' : 'connect', () => sock.write(cmd));
      sock.on('data', (d) => {
        buf += d.toString();
        // NOAUTH: serving, with the default user turned off (a store with roles).
        if (buf.includes('+PONG') || buf.includes('-NOAUTH')) {
          sock.end();
          resolve(true);
        } else if (buf.includes('-')) sock.destroy();
      });
      sock.on('error', () => resolve(false));
      sock.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

function logTail(dir: string, logName: string): string {
  try {
    return readFileSync(join(dir, logName), 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return `(no ${logName})`;
  }
}
