/**
 * Store connection settings carried in the environment (AMBIT_REDIS_*): how the
 * CLI is pointed at a store, and how ambitd hands its own settings to the
 * waypoints it spawns without putting a password on a command line (where any
 * user could read it in `ps`). AMBIT_REDIS_CREDENTIALS names a role's credentials
 * file ({"username", "password"}, from `ambit store init` or `ambit node join`).
 */
import { readFileSync } from 'node:fs';
import { readCredentialsSync } from '../access/credentials.js';
import { UsageError } from '../errors.js';
import type { StoreOptions } from './types.js';

export function storeOptionsFromEnv(url: string, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const options: StoreOptions = { url, connectTimeoutMs: Number(env.AMBIT_REDIS_TIMEOUT_MS ?? 3000) };
  if (env.AMBIT_REDIS_CREDENTIALS) Object.assign(options, readCredentialsSync(env.AMBIT_REDIS_CREDENTIALS));
  if (env.AMBIT_REDIS_USERNAME) options.username = env.AMBIT_REDIS_USERNAME;
  if (env.AMBIT_REDIS_PASSWORD) options.password = env.AMBIT_REDIS_PASSWORD;
  if (env.AMBIT_REDIS_KEY_PREFIX) options.keyPrefix = env.AMBIT_REDIS_KEY_PREFIX;
  if (env.AMBIT_REDIS_TLS_CA) options.tls = { ca: readFileSync(env.AMBIT_REDIS_TLS_CA) };
  if (env.AMBIT_REDIS_SENTINELS) {
    options.sentinels = env.AMBIT_REDIS_SENTINELS.split(',').map((hp) => {
      const [host, port] = hp.trim().split(':');
      if (!host || !port || !/^\d+$/.test(port)) throw new UsageError(`AMBIT_REDIS_SENTINELS: expected host:port[,host:port…], got ${JSON.stringify(hp)}`);
      return { host, port: Number(port) };
    });
    options.sentinelName = env.AMBIT_REDIS_SENTINEL_NAME ?? 'mymaster';
    // A file, like every other secret here: the sentinels' own password (requirepass on them).
    if (env.AMBIT_REDIS_SENTINEL_PASSWORD_FILE) options.sentinelPassword = readFileSync(env.AMBIT_REDIS_SENTINEL_PASSWORD_FILE, 'utf8').trim();
    if (env.AMBIT_REDIS_SENTINEL_PASSWORD) options.sentinelPassword = env.AMBIT_REDIS_SENTINEL_PASSWORD;
  }
  return options;
}

/**
 * The environment that makes storeOptionsFromEnv give back `options`. A TLS CA
 * travels as a file (`caFile`, written by the caller); other TLS settings
 * (client certificates) do not travel.
 */
export function storeEnv(options: StoreOptions, caFile?: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.url) env.AMBIT_REDIS_URL = options.url;
  if (options.username) env.AMBIT_REDIS_USERNAME = options.username;
  if (options.password) env.AMBIT_REDIS_PASSWORD = options.password;
  if (options.keyPrefix) env.AMBIT_REDIS_KEY_PREFIX = options.keyPrefix;
  if (caFile) env.AMBIT_REDIS_TLS_CA = caFile;
  if (options.sentinels) {
    env.AMBIT_REDIS_SENTINELS = options.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    env.AMBIT_REDIS_SENTINEL_NAME = options.sentinelName ?? 'mymaster';
    if (options.sentinelPassword) env.AMBIT_REDIS_SENTINEL_PASSWORD = options.sentinelPassword;
  }
  return env;
}
