import test from 'ava';
import { applyChange, cloneSnapshot, Store, Watcher, type Change } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ep, plain, until, vs } from './store-util.js';

let redis: RedisServer;
let n = 0;

test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

async function setup(t: { teardown(fn: () => Promise<void>): void }, pollIntervalMs = 5000, before?: (store: Store) => Promise<void>) {
  const name = `w${++n}`;
  const keyPrefix = `${name}:`;
  const store = await Store.connect({ url: redis.url, keyPrefix });
  // Writes the test wants inside the first snapshot happen before the watcher exists:
  // a watcher started earlier may legitimately snapshot between them.
  await before?.(store);
  // A connection name of its own, so a test can kill exactly this watcher's subscriber.
  const watcher = new Watcher({ url: redis.url, keyPrefix, pollIntervalMs, connectionName: name });
  t.teardown(async () => {
    await watcher.close();
    await store.close();
  });
  return { store, watcher, name };
}

test('a watcher gets a snapshot, then every change in revision order', async (t) => {
  const { store, watcher } = await setup(t, 5000, async (s) => {
    await s.apply([vs('a'), vs('b')]);
    await s.enroll(ep('reviews', 'n1', 9080));
  });

  const first = await watcher.ready();
  t.is(first.revision, 2);
  t.deepEqual([...first.resources.keys()], ['VirtualService/default/a', 'VirtualService/default/b']);
  const mine = cloneSnapshot(first); // a consumer keeping its own copy
  const seen: Change[] = [];
  watcher.on('change', (c) => {
    seen.push(c);
    applyChange(mine, c);
  });

  await store.apply([vs('a', 'a2'), vs('c')]); // 3
  await store.delete([{ kind: 'VirtualService', namespace: 'default', name: 'b' }]); // 4
  await store.enroll(ep('reviews', 'n2', 9080)); // 5
  await store.unenroll('default', 'reviews'); // 6
  await store.apply([vs('a', 'a2')]); // unchanged: no revision, no change

  await until('revision 6', () => watcher.stats().revision === 6);
  t.deepEqual(
    seen.map((c) => `${c.revision}:${c.type}`),
    ['3:resource-put', '3:resource-put', '4:resource-delete', '5:endpoint-put', '6:endpoint-delete', '6:endpoint-delete', '6:service-delete'],
  );
  const fresh = await store.snapshot();
  t.deepEqual(plain(watcher.current()), plain(fresh));
  t.deepEqual(plain(mine), plain(fresh));
  t.is(watcher.resyncs, 0);
});

test('a subscriber that is dropped resyncs and converges', async (t) => {
  const { store, watcher, name } = await setup(t);
  await store.apply([vs('a')]);
  await watcher.ready();
  const snapshots: boolean[] = [];
  watcher.on('snapshot', (_s, info) => snapshots.push(info.resync));

  const clients = String(await store.redis.call('CLIENT', 'LIST'));
  const id = /^id=(\d+) /.exec(clients.split('\n').find((l) => l.includes(` name=${name}-watcher-sub `)) ?? '')?.[1];
  t.truthy(id);
  await store.redis.call('CLIENT', 'KILL', 'ID', id!);
  await store.apply([vs('b')]);
  await store.delete([{ kind: 'VirtualService', namespace: 'default', name: 'a' }]);

  await until('resync', () => watcher.resyncs >= 1);
  await until('convergence', async () => watcher.stats().revision === (await store.revision()));
  t.deepEqual(plain(watcher.current()), plain(await store.snapshot()));
  t.true(snapshots.includes(true));
});

test('Redis going back in time (restored or flushed) is noticed by the poll and resynced', async (t) => {
  const { store, watcher } = await setup(t, 200);
  await store.apply([vs('a')]);
  await store.apply([vs('b')]);
  await store.apply([vs('c')]);
  await watcher.ready();
  await until('revision 3', () => watcher.stats().revision === 3);

  // Data loss: every key of this mesh disappears, then one new write lands at revision 1.
  const keys = await store.redis.keys(`${store.keys.revision.replace(/revision$/, '')}*`);
  await store.redis.del(...keys);
  await store.apply([vs('z')]);

  await until('resync after going back', () => watcher.resyncs >= 1 && watcher.stats().revision === 1);
  t.deepEqual(plain(watcher.current()), plain(await store.snapshot()));
  t.deepEqual([...watcher.current()!.resources.keys()], ['VirtualService/default/z']);
});

test('a change log trimmed past the watcher makes it resync instead of applying half a revision', async (t) => {
  const name = `w${++n}`;
  // The writer keeps a one-entry log: a two-document apply leaves only its second entry.
  const store = await Store.connect({ url: redis.url, keyPrefix: `${name}:`, changeLogLength: 1 });
  const watcher = new Watcher({ url: redis.url, keyPrefix: `${name}:`, pollIntervalMs: 0 });
  t.teardown(async () => {
    await watcher.close();
    await store.close();
  });
  await store.apply([vs('a')]);
  await watcher.ready();
  const changes: Change[] = [];
  watcher.on('change', (c) => changes.push(c));

  await store.apply([vs('b'), vs('c')]);
  await until('resync', () => watcher.resyncs === 1);
  t.deepEqual(changes, []);
  t.deepEqual(plain(watcher.current()), plain(await store.snapshot()));
  t.is(watcher.current()!.resources.size, 3);
});
