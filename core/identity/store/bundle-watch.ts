/**
 * Follows the published trust bundle: a subscription for prompt updates and a
 * poll as the safety net (a notification lost while Redis was away costs at
 * most one poll interval). Calls back only when the revision moves.
 */
import type { Store } from '../../store/index.js';
import { logger } from '../../logging.js';
import { readBundle, type PublishedBundle } from './bundle.js';
import { identityKeys } from './keys.js';

const log = logger('identity-bundle');
const DEFAULT_POLL_MS = 30_000;

export interface BundleWatch {
  /** Reads now, whatever the notifications said. */
  refresh(): Promise<void>;
  /**
   * Resolves once any bundle change already in the store has been handled:
   * one cheap read of the revision, and a refresh only if it moved. The
   * signer calls it per request, so it never signs with a CA a rotation replaced.
   */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

export function watchBundle(
  store: Store,
  onChange: (published: PublishedBundle) => void | Promise<void>,
  options: { pollMs?: number; sinceRevision?: number } = {},
): BundleWatch {
  let revision = options.sinceRevision ?? 0;
  let stopped = false;
  let chain = Promise.resolve();
  const refresh = (): Promise<void> => {
    // One read at a time, so callbacks see revisions in order.
    chain = chain.then(async () => {
      if (stopped) return;
      try {
        const published = await readBundle(store);
        if (!published || published.revision === revision) return;
        revision = published.revision;
        await onChange(published);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'reading the trust bundle failed; will retry');
      }
    });
    return chain;
  };
  const sub = store.redis.duplicate();
  sub.on('error', () => undefined); // the poll covers outages; ioredis logs reconnects
  sub.on('message', () => void refresh());
  // Resubscribing after a reconnect misses what changed meanwhile: read once more.
  sub.on('ready', () => void refresh());
  sub.subscribe(identityKeys(store).bundleChannel).catch((err: Error) => log.debug({ err: err.message }, 'bundle subscribe failed'));
  const timer = setInterval(() => void refresh(), options.pollMs ?? DEFAULT_POLL_MS);
  timer.unref();
  return {
    refresh,
    async sync() {
      const current = Number((await store.redis.hget(identityKeys(store).bundle, 'revision')) ?? 0);
      if (current !== revision) await refresh();
      else await chain;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      sub.disconnect();
      await chain;
    },
  };
}
