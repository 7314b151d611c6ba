import test from 'ava';
import { NotFoundError, StoreError } from '../../core/errors.js';
import { Store, type EndpointRecord } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let n = 0;
const connect = () => Store.connect({ url: redis.url, keyPrefix: `reg${++n}:` });

test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

function ep(node: string, address: string, port: number, extra: Partial<EndpointRecord> = {}): EndpointRecord {
  return { service: 'reviews', namespace: 'default', node, address, port, serviceAccount: 'reviews', labels: { version: 'v1' }, ...extra };
}

test('enroll creates the service and endpoint in one revision; ports are the union', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  const created = await store.enroll(ep('n1', '10.0.0.1', 9080));
  const vip = created.vip;
  t.regex(vip, /^240\.240\./);
  t.deepEqual(created, { revision: 1, action: 'created', vip });
  t.deepEqual(await store.enroll(ep('n1', '10.0.0.1', 9080)), { revision: 1, action: 'unchanged', vip });
  t.deepEqual(await store.enroll(ep('n1', '10.0.0.1', 9080, { labels: { version: 'v2' } })), { revision: 2, action: 'configured', vip });
  await store.enroll(ep('n2', '10.0.0.2', 9080));
  await store.enroll(ep('n2', '10.0.0.2', 8443));
  await store.enroll(ep('n1', '10.0.0.9', 5000, { service: 'ratings', serviceAccount: 'ratings' }));

  t.deepEqual(await store.getService('default', 'reviews'), { name: 'reviews', namespace: 'default', ports: [8443, 9080], vip });
  t.deepEqual(
    (await store.listServices()).map((s) => s.name),
    ['ratings', 'reviews'],
  );
  t.deepEqual(await store.listServices('prod'), []);
  t.is((await store.listEndpoints()).length, 4);
  t.deepEqual(
    (await store.listEndpoints({ service: 'reviews', node: 'n2' })).map((e) => e.port),
    [8443, 9080],
  );
  t.deepEqual(
    (await store.listEndpoints({ node: 'n1' })).map((e) => e.service),
    ['ratings', 'reviews'],
  );

  const changes = await store.changesSince(0);
  t.deepEqual(
    changes?.filter((c) => c.revision === 1).map((c) => c.type),
    ['service-put', 'endpoint-put'],
  );
});

test('unenroll removes matching endpoints, shrinks ports, and drops the service with its last endpoint; VIP is kept', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.enroll(ep('n1', '10.0.0.1', 9080));
  await store.enroll(ep('n2', '10.0.0.2', 9080));
  await store.enroll(ep('n2', '10.0.0.2', 8443));
  const vip = (await store.getService('default', 'reviews'))!.vip;

  const r1 = await store.unenroll('default', 'reviews', { port: 8443 });
  t.deepEqual({ removed: r1.removed, serviceDeleted: r1.serviceDeleted }, { removed: 1, serviceDeleted: false });
  t.deepEqual(await store.getService('default', 'reviews'), { name: 'reviews', namespace: 'default', ports: [9080], vip });
  await store.enroll(ep('n3', '10.0.0.3', 9090));
  t.is((await store.getService('default', 'reviews'))!.vip, vip, 'enroll preserves the VIP');

  const before = await store.revision();
  await t.throwsAsync(store.unenroll('default', 'reviews', { node: 'n9' }), { instanceOf: NotFoundError });
  t.is(await store.revision(), before);
  t.is((await store.unenroll('default', 'reviews', { node: 'n9', ignoreNotFound: true })).removed, 0);

  const r2 = await store.unenroll('default', 'reviews', { node: 'n2' });
  t.is(r2.removed, 1);
  const r3 = await store.unenroll('default', 'reviews');
  t.deepEqual({ removed: r3.removed, serviceDeleted: r3.serviceDeleted }, { removed: 2, serviceDeleted: true });
  t.is(await store.getService('default', 'reviews'), undefined);
  t.deepEqual(await store.listEndpoints(), []);
  const last = (await store.changesSince(r3.revision - 1))!.map((c) => c.type);
  t.deepEqual(last, ['endpoint-delete', 'endpoint-delete', 'service-delete']);
});

test('enroll rejects records the store cannot key', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  const err = await t.throwsAsync(store.enroll(ep('n/1', '10.0.0.1', 80)), { instanceOf: StoreError });
  t.is(err.code, 'ESTORE_INVALID');
  await t.throwsAsync(store.enroll(ep('n1', '10.0.0.1', 70000)), { code: 'ESTORE_INVALID' });
  t.is(await store.revision(), 0);
});

test('node heartbeats expire after their TTL and do not bump the revision', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.heartbeatNode({ name: 'host-b', address: '10.0.0.2', hbonePort: 15008 }, 60);
  await store.heartbeatNode({ name: 'host-a', address: '10.0.0.1' }, 1);
  t.deepEqual(
    (await store.listNodes()).map((x) => x.name),
    ['host-a', 'host-b'],
  );
  const a = await store.getNode('host-a');
  t.is(a?.address, '10.0.0.1');
  t.true(Date.now() - a!.lastSeen! < 5000);
  t.is(await store.revision(), 0);

  await new Promise((r) => setTimeout(r, 1300));
  t.is(await store.getNode('host-a'), undefined);
  t.deepEqual(
    (await store.listNodes()).map((x) => x.name),
    ['host-b'],
  );
  await t.throwsAsync(store.heartbeatNode({ name: 'x', address: '1.1.1.1' }, 0), { code: 'ESTORE_INVALID' });
});
