import test from 'ava';
import { Store, Watcher } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ep, plain, until, vs } from './store-util.js';

// Its own file: restarting Redis would disturb every other test sharing the server.
let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('a watcher that misses notifications across a Redis restart converges to a fresh snapshot', async (t) => {
  const opts = { url: redis.url, keyPrefix: 'restart:' };
  const before = await Store.connect(opts);
  await before.apply([vs('a'), vs('b')]);
  await before.enroll(ep('reviews', 'n1', 9080));

  // Polling off: only the reconnect can bring the watcher back in step.
  const watcher = new Watcher({ ...opts, pollIntervalMs: 0 });
  t.teardown(() => watcher.close());
  await watcher.ready();
  await before.apply([vs('c')]);
  await until('revision 3', () => watcher.stats().revision === 3);

  let disconnected = false;
  watcher.on('disconnected', () => (disconnected = true));
  await redis.kill(); // a crash: the watcher's subscriber goes away without a goodbye
  await until('watcher notices', () => disconnected);
  await before.close();
  // While Redis is down the watcher keeps serving what it had.
  t.is(watcher.current()!.resources.size, 3);
  t.is(watcher.stats().connected, false);

  await redis.restart();
  // Writes land as soon as Redis is back, racing the watcher's reconnect backoff:
  // their notifications are published before (or while) it resubscribes.
  const after = await Store.connect(opts);
  t.teardown(() => after.close());
  await after.apply([vs('a', 'a2'), vs('d')]);
  await after.delete([{ kind: 'VirtualService', namespace: 'default', name: 'b' }]);
  await after.enroll(ep('reviews', 'n2', 9080));
  await after.unenroll('default', 'reviews', { node: 'n1' });

  await until('convergence', async () => watcher.stats().revision === (await after.revision()), 20_000);
  t.deepEqual(plain(watcher.current()), plain(await after.snapshot()));
  t.true(watcher.resyncs >= 1);
  t.true(watcher.stats().connected);
  t.is(watcher.current()!.revision, 7);
});
