/** The store: Redis as ambit's single source of truth. */
export { Store } from './store.js';
export { Watcher, type WatcherEvents, type WatcherOptions, type WatcherStats } from './watcher.js';
export { applyChange, cloneSnapshot, emptySnapshot } from './snapshot.js';
export { DEFAULT_KEY_PREFIX, endpointKey, keysFor, serviceKey, type Keys } from './keys.js';
export { connectRedis, createRedis, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REDIS_URL, describeTarget, redactUrl, redisOptions } from './connection.js';
export type * from './types.js';
