/**
 * Connects the CLI to the store named by --redis / AMBIT_REDIS_* and closes it
 * afterwards. The CLI fails fast (a few seconds) when Redis is unreachable,
 * unlike the daemon, which waits for it forever.
 */
import type { Command } from 'commander';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CREDENTIALS_DIR, NODE_CREDENTIALS_FILE, OPERATOR_CREDENTIALS } from '../core/access/credentials.js';
import { DEFAULT_NODE_DIR } from '../core/identity/client/node-dir.js';
import type { Store } from '../core/store/index.js';
import type { StoreOptions } from '../core/store/types.js';
import { storeOptionsFromEnv } from '../core/store/env-options.js';

/**
 * Store settings from --redis and the AMBIT_REDIS_* environment. With no credentials
 * given at all, the operator's file from `ambit store init` is used when this host has
 * it, else the node's own from `ambit node join` (enough for tunnels, certs, doctor).
 */
export function storeOptions(url: string, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const given = env.AMBIT_REDIS_CREDENTIALS !== undefined || env.AMBIT_REDIS_USERNAME || env.AMBIT_REDIS_PASSWORD || /\/\/[^/]*@/.test(url);
  const found = given ? undefined : DEFAULT_CREDENTIAL_FILES.find((f) => readable(f));
  return storeOptionsFromEnv(url, found ? { ...env, AMBIT_REDIS_CREDENTIALS: found } : env);
}

const DEFAULT_CREDENTIAL_FILES = [join(DEFAULT_CREDENTIALS_DIR, OPERATOR_CREDENTIALS), join(DEFAULT_NODE_DIR, NODE_CREDENTIALS_FILE)];

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
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
