/**
 * Builds ioredis clients from StoreOptions. Two behaviours, because two kinds of
 * process use the store:
 *  - CLI (default): fail fast with one actionable line (EREDIS_UNREACHABLE) instead
 *    of hanging while ioredis retries in the background;
 *  - long-running (retryForever): daemons and waypoints keep serving their last
 *    snapshot, so they reconnect forever with capped exponential backoff and log.
 * Passwords never appear in messages or logs: targets are described with redactUrl().
 */
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { StoreError } from '../errors.js';
import { logger } from '../logging.js';
import type { StoreOptions } from './types.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** Backoff ceiling for long-running processes: long enough not to hammer, short enough to recover fast. */
const MAX_BACKOFF_MS = 5000;
const HINT = 'start redis-server or pass --redis URL / AMBIT_REDIS_URL';

const log = logger('store');

/** The URL without its password, safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** How the target is named in messages: the redacted URL, or the Sentinel master and its sentinels. */
export function describeTarget(opts: StoreOptions): string {
  if (opts.sentinels?.length) {
    const list = opts.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    return `sentinel master "${opts.sentinelName ?? 'mymaster'}" via ${list}`;
  }
  return redactUrl(opts.url ?? DEFAULT_REDIS_URL);
}

/** Translates StoreOptions to ioredis options (no retry policy; see createRedis). */
export function redisOptions(opts: StoreOptions, role = 'store'): RedisOptions {
  const common: RedisOptions = {
    connectionName: `${opts.connectionName ?? 'ambit'}-${role}`,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    lazyConnect: true,
  };
  const tls = tlsOptions(opts.tls);
  if (opts.sentinels?.length) {
    return {
      ...common,
      sentinels: opts.sentinels,
      name: opts.sentinelName ?? 'mymaster',
      sentinelPassword: opts.sentinelPassword,
      password: opts.password,
      username: opts.username,
      ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
    };
  }
  return { ...common, ...parseUrl(opts.url ?? DEFAULT_REDIS_URL, tls), ...definedAuth(opts) };
}

function definedAuth(opts: StoreOptions): RedisOptions {
  const auth: RedisOptions = {};
  if (opts.password !== undefined) auth.password = opts.password;
  if (opts.username !== undefined) auth.username = opts.username;
  return auth;
}

function tlsOptions(tls: StoreOptions['tls']): ConnectionOptions | undefined {
  if (tls === true) return {};
  return tls || undefined;
}

function parseUrl(url: string, tls: ConnectionOptions | undefined): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreError('EREDIS_URL', `invalid Redis URL ${redactUrl(url)}; expected redis://host:port`);
  }
  if (u.protocol === 'unix:') return { path: u.pathname };
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new StoreError('EREDIS_URL', `unsupported Redis URL scheme "${u.protocol}" in ${redactUrl(url)}; use redis:// or rediss://`);
  }
  const out: RedisOptions = { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(u.port || 6379) };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const db = u.pathname.slice(1);
  if (db) {
    if (!/^\d+$/.test(db)) throw new StoreError('EREDIS_URL', `invalid database "${db}" in ${redactUrl(url)}`);
    out.db = Number(db);
  }
  // SNI names a host, never an address (RFC 6066; Node warns): an IP is checked against the certificate's IP SANs.
  const sni = isIP(out.host!) ? {} : { servername: out.host };
  const wantTls = u.protocol === 'rediss:' ? { ...sni, ...tls } : tls;
  if (wantTls) out.tls = wantTls;
  return out;
}

export function backoffMs(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), MAX_BACKOFF_MS);
  return base + Math.floor(Math.random() * 100);
}

export function unreachable(opts: StoreOptions, cause: unknown): StoreError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const target = describeTarget(opts);
  if (isAuthError(cause)) {
    return new StoreError(
      'EREDIS_AUTH',
      `Redis at ${target} rejected the credentials (${/^NOAUTH/.test(detail) ? 'NOAUTH: a password is required' : detail}); check the password in the Redis URL or AMBIT_REDIS_PASSWORD`,
      { target },
      { cause },
    );
  }
  return new StoreError('EREDIS_UNREACHABLE', `cannot reach Redis at ${target} (${detail}); ${HINT}`, { target }, { cause });
}

/**
 * A client that is not yet connected, with the retry policy and logging of its mode.
 * Long-running clients queue commands while disconnected (they resume on reconnect);
 * CLI clients give up after a few quick attempts so commands fail instead of hanging.
 */
export function createRedis(opts: StoreOptions, role = 'store', overrides: RedisOptions = {}): Redis {
  const forever = opts.retryForever ?? false;
  const target = describeTarget(opts);
  let everReady = false;
  let down = false;
  let lastError: Error | undefined;
  const client = new Redis({
    ...redisOptions(opts, role),
    maxRetriesPerRequest: forever ? null : 1,
    retryStrategy: (attempt) => {
      if (forever) return backoffMs(attempt);
      // Before the first connection the connect deadline decides; ECONNREFUSED from a single
      // host (nothing listens) and rejected credentials are definitive, so waiting would only
      // delay the error.
      if (!everReady) {
        const hopeless = isAuthError(lastError) || (refused(lastError) && !opts.sentinels?.length);
        return hopeless ? null : Math.min(50 * attempt, 500);
      }
      return attempt <= 3 ? 100 * attempt : null;
    },
    ...overrides,
  });
  client.on('error', (err: Error) => {
    lastError = err;
    log.debug({ target, role, err: err.message }, 'Redis connection error');
  });
  // 'reconnecting' (not 'close') marks a real outage: an intentional close does not retry.
  client.on('reconnecting', (delayMs: number) => {
    if (forever && !down) {
      log.warn({ target, role, err: lastError?.message }, everReady ? 'lost Redis; retrying with backoff' : 'waiting for Redis');
    } else log.debug({ target, role, delayMs }, 'reconnecting to Redis');
    down = true;
  });
  client.on('ready', () => {
    if (down && forever) log.info({ target, role }, 'connected to Redis');
    everReady = true;
    down = false;
    lastError = undefined;
  });
  lastErrors.set(client, () => lastError);
  return client;
}

/** The last connection error of each client, so a failed connect can say why. */
const lastErrors = new WeakMap<Redis, () => Error | undefined>();
/** Wrong or missing credentials: retrying cannot help, so a CLI reports them at once. */
export function isAuthError(err: unknown): boolean {
  return err instanceof Error && /^(WRONGPASS|NOAUTH)|invalid password/.test(err.message);
}

function refused(err: NodeJS.ErrnoException | undefined): boolean {
  return err?.code === 'ECONNREFUSED';
}

/**
 * Connects and waits until Redis answers. CLI mode rejects with EREDIS_UNREACHABLE
 * after connectTimeoutMs (or at once on ECONNREFUSED); long-running mode waits as long as it takes.
 */
export async function connectRedis(opts: StoreOptions, role = 'store'): Promise<Redis> {
  const client = createRedis(opts, role);
  await waitReady(client, opts);
  return client;
}

export function waitReady(client: Redis, opts: StoreOptions): Promise<void> {
  const timeoutMs = opts.retryForever ? undefined : (opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  return new Promise<void>((resolve, reject) => {
    if (client.status === 'ready') return resolve();
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const fail = (cause: unknown): void => {
      cleanup();
      client.disconnect();
      reject(unreachable(opts, cause));
    };
    const onEnd = (): void => fail(lastErrors.get(client)?.() ?? new Error('connection closed'));
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => fail(lastErrors.get(client)?.() ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    client.once('ready', onReady);
    client.once('end', onEnd);
    // connect() rejects on the first failed attempt even while retries go on; the events above decide.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}
