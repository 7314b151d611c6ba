/**
 * A private redis-server for one test file: its own loopback port and temp dir,
 * append-only persistence so restart() keeps the data (like a real Redis restart),
 * and cleanup even when a test crashes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisOptions {
  /** Require this password (requirepass), to test authenticated connections. */
  password?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** How long to wait for PING to answer (default 10000 ms). */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** redis://127.0.0.1:<port> (with the password when one was set). */
  url: string;
  port: number;
  dir: string;
  /** Graceful shutdown (data is flushed to the AOF), then remove the dir. Idempotent. */
  stop(): Promise<void>;
  /** Graceful shutdown and start again on the same port with the same data. */
  restart(): Promise<void>;
  /** SIGKILL, like a crash; the dir stays so restart() can bring it back. */
  kill(): Promise<void>;
}

const REDIS_BIN = process.env.AMBIT_TEST_REDIS_SERVER ?? 'redis-server';
const MISSING = 'redis-server not found; install redis-server: apt-get install redis-server';

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ambit-redis-'));
  const args = [
    '--port',
    String(port),
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
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let removed = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_BIN, args, { stdio: 'ignore' });
    child = proc;
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new Error(MISSING) : err));
      proc.once('exit', (code, signal) => reject(new Error(`redis-server exited early (${signal ?? code}):\n${logTail(dir)}`)));
    });
    exited.catch(() => undefined); // only meaningful while starting
    await Promise.race([waitForPing(port, opts.password, opts.startTimeoutMs ?? 10_000), exited]);
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await gone;
  };

  const onExit = (): void => {
    child?.kill('SIGKILL');
    if (!removed) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  await launch();
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await halt('SIGTERM');
      removed = true;
      rmSync(dir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    },
    async restart() {
      await halt('SIGTERM'); // SIGTERM makes redis-server fsync the AOF before exiting
      await launch();
    },
    async kill() {
      await halt('SIGKILL');
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
async function waitForPing(port: number, password: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const cmd = (password ? resp('AUTH', password) : '') + resp('PING');
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ port, host: '127.0.0.1' });
      let buf = '';
      sock.setTimeout(500, () => sock.destroy());
      sock.on('connect', () => sock.write(cmd));
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

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'redis.log'), 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '(no redis.log)';
  }
}
