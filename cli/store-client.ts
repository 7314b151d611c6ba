/**
 * Connects the CLI to the store named by --redis / AMBIT_REDIS_* and closes it
 * afterwards. The CLI fails fast (a few seconds) when Redis is unreachable,
 * unlike the daemon, which waits for it forever.
 */
import type { Command } from 'commander';
import type { Store } from '../core/store/index.js';
import type { StoreOptions } from '../core/store/types.js';
import { storeOptionsFromEnv } from '../core/store/env-options.js';

/** Store settings from --redis and the AMBIT_REDIS_* environment. */
export function storeOptions(url: string, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  return storeOptionsFromEnv(url, env);
}

export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const { redis } = cmd.optsWithGlobals<{ redis: string }>();
  return withStoreOptions(storeOptions(redis), fn);
}

/** The same with settings the command built itself (a node's own credentials, say). */
export async function withStoreOptions<T>(options: StoreOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const { Store } = await import('../core/store/index.js');
  const store = await Store.connect(options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
