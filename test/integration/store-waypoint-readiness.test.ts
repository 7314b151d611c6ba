/**
 * A waypoint's readiness is its node's word, in the node's own key: readers see
 * it laid over the endpoint record, watchers get it as one endpoint change, and
 * a node's word about an endpoint on another node counts for nothing.
 */
import test from 'ava';
import { Store, Watcher } from '../../core/store/index.js';
import type { Change } from '../../core/store/types.js';
import { waypointEndpoint, waypointOf } from '../../core/store/waypoints.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;

test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const starting = waypointEndpoint({
  namespace: 'default',
  service: 'reviews',
  node: 'c',
  address: '10.0.0.3',
  port: 15009,
  metricsPort: 15021,
  state: 'starting',
});
const state = async (store: Store) => (await store.listEndpoints({ service: 'reviews-waypoint' })).map((e) => waypointOf(e)?.state);

test('the node says ready: readers and watchers see it without a config revision; it withdraws it the same way', async (t) => {
  const store = await Store.connect({ url: redis.url, keyPrefix: 'wr1:' });
  t.teardown(() => store.close());
  await store.enroll(starting);
  const revision = await store.revision();
  const watcher = new Watcher({ url: redis.url, keyPrefix: 'wr1:', pollIntervalMs: 0 });
  t.teardown(() => watcher.close());
  await watcher.ready();
  const changes: Change[] = [];
  watcher.on('change', (c) => changes.push(c));

  t.deepEqual(await state(store), ['starting']);
  await store.setWaypointReady(starting, true);
  t.deepEqual(await state(store), ['ready']);
  t.is((await store.snapshot()).endpoints.get('default/reviews-waypoint/c/10.0.0.3:15009')?.labels['ambit.dev/waypoint-state'], 'ready');
  t.is(await store.revision(), revision, 'readiness is not configuration');
  await eventually(async () => changes.length === 1, 5000);
  t.like(changes[0], { type: 'endpoint-put', revision });
  t.is(waypointOf((changes[0] as Extract<Change, { type: 'endpoint-put' }>).endpoint)?.state, 'ready');

  // An operator's later write of the record (say, new labels) does not hide the node's word.
  await store.enroll({ ...starting, labels: { ...starting.labels, team: 'books' } });
  await eventually(async () => changes.length === 2, 5000);
  t.is(waypointOf((changes[1] as Extract<Change, { type: 'endpoint-put' }>).endpoint)?.state, 'ready');

  await store.setWaypointReady(starting, false);
  t.deepEqual(await state(store), ['starting']);
  await eventually(async () => changes.length === 3, 5000);
  t.is(waypointOf((changes[2] as Extract<Change, { type: 'endpoint-put' }>).endpoint)?.state, 'starting');
});

test("a node's word about another node's waypoint is ignored", async (t) => {
  const store = await Store.connect({ url: redis.url, keyPrefix: 'wr2:' });
  t.teardown(() => store.close());
  await store.enroll(starting);
  // Node d writes, in its own key, that c's waypoint is ready.
  await store.redis.hset(store.keys.waypointReady('d'), 'default/reviews-waypoint/c/10.0.0.3:15009', 'ready');
  t.deepEqual(await state(store), ['starting']);
  // A readiness entry for an endpoint that is not enrolled brings nothing back.
  await store.unenroll('default', 'reviews-waypoint');
  await store.setWaypointReady(starting, true);
  t.deepEqual(await store.listEndpoints(), []);
});
