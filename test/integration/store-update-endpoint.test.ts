import test from 'ava';
import { Store } from '../../core/store/index.js';
import { waypointEndpoint, withWaypointState } from '../../core/store/waypoints.js';
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

test('updateEndpoint rewrites an existing endpoint in one revision, and never brings back a removed one', async (t) => {
  const store = await Store.connect({ url: redis.url, keyPrefix: 'upd:' });
  t.teardown(() => store.close());
  await store.enroll(starting);
  const before = await store.revision();
  const ready = withWaypointState(starting, 'ready');
  t.deepEqual(await store.updateEndpoint(ready), { revision: before + 1, action: 'updated' });
  t.deepEqual(await store.updateEndpoint(ready), { revision: before + 1, action: 'unchanged' });
  t.deepEqual((await store.listEndpoints({ service: 'reviews-waypoint' }))[0]?.labels['ambit.dev/waypoint-state'], 'ready');
  const changes = await store.changesSince(before);
  t.deepEqual(
    changes?.map((c) => c.type),
    ['endpoint-put'],
    'watchers see it as one endpoint change',
  );
  await store.unenroll('default', 'reviews-waypoint');
  const gone = await store.revision();
  t.deepEqual(await store.updateEndpoint(ready), { revision: gone, action: 'missing' });
  t.deepEqual(await store.listEndpoints(), []);
});
