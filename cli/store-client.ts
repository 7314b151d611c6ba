/**
 * Connects the CLI to the store named by --redis / AMBIT_REDIS_* and closes it
 * afterwards. The CLI fails fast (a few seconds) when Redis is unreachable,
 * unlike the daemon, which waits for it forever.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Store } from '../core/store/index.js';
import type { StoreOptions } from '../core/store/types.js';
import { UsageError } from '../core/errors.js';

export function storeOptions(url: string, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const options: StoreOptions = { url, connectTimeoutMs: Number(env.AMBIT_REDIS_TIMEOUT_MS ?? 3000) };
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
  }
  return options;
}

export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const { Store } = await import('../core/store/index.js');
  const { redis } = cmd.optsWithGlobals<{ redis: string }>();
  const store = await Store.connect(storeOptions(redis));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
