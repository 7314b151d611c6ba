import test from 'ava';
import { Store, Watcher, type EndpointRecord } from '../../core/store/index.js';
import { DEFAULT_VIP_CIDR, inRange, preferredVip } from '../../core/vip/allocator.js';
import { ambit } from '../helpers/cli.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from './store-util.js';

let redis: RedisServer;
let n = 0;

test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

/** Each test gets its own key prefix: its own mesh in the shared Redis. */
async function mesh(t: { teardown(fn: () => Promise<void>): void }, clients = 1): Promise<Store[]> {
  const keyPrefix = `vip${++n}:`;
  const stores = await Promise.all(Array.from({ length: clients }, () => Store.connect({ url: redis.url, keyPrefix })));
  t.teardown(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });
  return stores;
}

function ep(service: string, node = 'n1', port = 9080, extra: Partial<EndpointRecord> = {}): EndpointRecord {
  return { service, namespace: 'default', node, address: '10.0.0.1', port, serviceAccount: service, labels: {}, ...extra };
}

/** Every VIP claimed in the store, as VIP -> owner. */
async function claims(store: Store): Promise<Record<string, string>> {
  return store.redis.hgetall(store.keys.vips);
}

test('the first enroll claims a VIP in the default range; re-enrolls and partial unenrolls keep it', async (t) => {
  const [store] = await mesh(t);
  const first = await store!.enroll(ep('reviews'));
  t.true(inRange(first.vip, DEFAULT_VIP_CIDR), first.vip);
  t.is(first.vip, preferredVip({ namespace: 'default', name: 'reviews' }), 'a free preferred address is taken as is');
  t.is((await store!.getService('default', 'reviews'))!.vip, first.vip);

  t.deepEqual(await store!.enroll(ep('reviews')), { revision: first.revision, action: 'unchanged', vip: first.vip });
  t.is((await store!.enroll(ep('reviews', 'n2', 8443))).vip, first.vip);
  await store!.unenroll('default', 'reviews', { node: 'n1' });
  t.is((await store!.getService('default', 'reviews'))!.vip, first.vip);
  t.deepEqual(await claims(store!), { [first.vip]: 'default/reviews' });
});

test('the VIP travels in the change log and the snapshot, so watchers see it', async (t) => {
  const [store] = await mesh(t);
  const watcher = new Watcher({ url: redis.url, keyPrefix: store!.options.keyPrefix!, pollIntervalMs: 0 });
  t.teardown(() => watcher.close());
  await watcher.ready();
  const { vip, revision } = await store!.enroll(ep('ratings'));

  const put = (await store!.changesSince(0))!.find((c) => c.type === 'service-put');
  t.is(put?.type === 'service-put' ? put.service.vip : undefined, vip);
  t.is((await store!.snapshot()).services.get('default/ratings')?.vip, vip);
  await until('the watcher at the enroll', () => watcher.stats().revision === revision);
  t.is(watcher.current()?.services.get('default/ratings')?.vip, vip);
});

test('different services get different VIPs; 200 services are all unique and in range', async (t) => {
  const [store] = await mesh(t);
  const a = await store!.enroll(ep('a'));
  const b = await store!.enroll(ep('b'));
  t.not(a.vip, b.vip);
  for (let i = 0; i < 198; i++) await store!.enroll(ep(`svc-${i}`));
  const vips = (await store!.listServices()).map((s) => s.vip!);
  t.is(vips.length, 200);
  t.is(new Set(vips).size, 200);
  t.true(vips.every((v) => inRange(v, DEFAULT_VIP_CIDR)));
  t.is(Object.keys(await claims(store!)).length, 200);
});

test('concurrent enrolls from several clients never hand out one VIP twice', async (t) => {
  const stores = await mesh(t, 6);
  // A /24 makes the allocator's preferences collide often, so claims really race.
  await stores[0]!.setMeshSettings({ vipCidr: '10.77.0.0/24' });
  const results = await Promise.all(
    stores.map(async (store, c) => {
      const mine = [];
      for (let i = 0; i < 25; i++) mine.push(await store.enroll(ep(`c${c}-s${i}`)));
      return mine;
    }),
  );
  // Also the same new service from every client at once: one VIP, not six.
  const same = await Promise.all(stores.map((s, c) => s.enroll(ep('shared', `node-${c}`))));

  const vips = results.flat().map((r) => r.vip);
  t.is(new Set(vips).size, 150);
  t.true(vips.every((v) => inRange(v, '10.77.0.0/24')));
  t.is(new Set(same.map((r) => r.vip)).size, 1);
  const services = await stores[0]!.listServices();
  t.is(services.length, 151);
  t.deepEqual(
    Object.fromEntries(services.map((s) => [s.vip, `${s.namespace}/${s.name}`])),
    await claims(stores[0]!),
    'the VIP index and the service records agree',
  );
});

test('deleting a service releases its VIP; it comes back to the same address', async (t) => {
  const [store] = await mesh(t);
  const { vip } = await store!.enroll(ep('reviews'));
  await store!.enroll(ep('reviews', 'n2'));
  t.true((await store!.unenroll('default', 'reviews')).serviceDeleted);
  t.deepEqual(await claims(store!), {});
  t.deepEqual(await store!.redis.hgetall(store!.keys.vipOwners), {});
  t.is((await store!.enroll(ep('reviews'))).vip, vip);
});

test('a released VIP can go to another service', async (t) => {
  const [store] = await mesh(t);
  await store!.setMeshSettings({ vipCidr: '10.88.0.0/30' }); // two usable addresses
  const a = await store!.enroll(ep('a'));
  const b = await store!.enroll(ep('b'));
  t.deepEqual([a.vip, b.vip].sort(), ['10.88.0.1', '10.88.0.2']);
  await store!.unenroll('default', 'a');
  t.is((await store!.enroll(ep('c'))).vip, a.vip);
});

test('a full range fails the enroll with EVIP_EXHAUSTED and changes nothing', async (t) => {
  const [store] = await mesh(t);
  await store!.setMeshSettings({ vipCidr: '10.99.0.0/30' });
  await store!.enroll(ep('a'));
  await store!.enroll(ep('b'));
  const revision = await store!.revision();
  const before = await store!.snapshot();

  const err = await t.throwsAsync(store!.enroll(ep('c')), { code: 'EVIP_EXHAUSTED' });
  t.regex(err.message, /10\.99\.0\.0\/30 is full/);
  t.is(await store!.revision(), revision);
  t.deepEqual(await store!.snapshot(), before);
  t.is(await store!.getService('default', 'c'), undefined);
  t.is(Object.keys(await claims(store!)).length, 2);
  // Services that already hold a VIP still enroll more endpoints.
  t.is((await store!.enroll(ep('a', 'n2'))).action, 'created');
});

test('the VIP range is a mesh setting; it cannot move away from VIPs in use', async (t) => {
  const [store] = await mesh(t);
  t.deepEqual(await store!.meshSettings(), { vipCidr: DEFAULT_VIP_CIDR });
  await t.throwsAsync(store!.setMeshSettings({ vipCidr: 'banana' }), { code: 'EVIP_INVALID_CIDR' });
  await t.throwsAsync(store!.setMeshSettings({ vipCidr: '10.1.2.3/16' }), { code: 'EVIP_INVALID_CIDR', message: /did you mean 10\.1\.0\.0\/16/ });

  const { vip } = await store!.enroll(ep('reviews'));
  const err = await t.throwsAsync(store!.setMeshSettings({ vipCidr: '10.1.0.0/16' }), { code: 'EVIP_RANGE_IN_USE' });
  t.true(err.message.includes(`${vip} (default/reviews)`), err.message);
  t.deepEqual(await store!.meshSettings(), { vipCidr: DEFAULT_VIP_CIDR });
  // A range that still contains every VIP in use is fine.
  t.deepEqual(await store!.setMeshSettings({ vipCidr: '240.0.0.0/4' }), { vipCidr: '240.0.0.0/4' });

  await store!.unenroll('default', 'reviews');
  t.deepEqual(await store!.setMeshSettings({ vipCidr: '10.1.0.0/16' }), { vipCidr: '10.1.0.0/16' });
  t.true(inRange((await store!.enroll(ep('reviews'))).vip, '10.1.0.0/16'));
});

test('allocateVip gives non-service names (ServiceEntry hosts) a stable VIP from the same pool', async (t) => {
  const [store] = await mesh(t);
  await store!.setMeshSettings({ vipCidr: '10.66.0.0/30' });
  const revision = await store!.revision();
  const host = await store!.allocateVip('edge', 'api.example.com');
  t.true(inRange(host, '10.66.0.0/30'));
  t.is(await store!.allocateVip('edge', 'api.example.com'), host);
  t.is(await store!.revision(), revision, 'no registry change');

  const a = await store!.enroll(ep('a'));
  t.not(a.vip, host);
  t.is(await store!.allocateVip('default', 'a'), a.vip, 'an enrolled service keeps its own VIP');
  await t.throwsAsync(store!.enroll(ep('b')), { code: 'EVIP_EXHAUSTED' });
  await t.throwsAsync(store!.allocateVip('edge', 'bad name'), { code: 'ESTORE_INVALID' });
});

test('ambit get services shows the VIP', async (t) => {
  const store = await Store.connect({ url: redis.url }); // the CLI's default key prefix
  t.teardown(() => store.close());
  const r = await ambit(['enroll', 'reviews', '--port', '9080', '--address', '10.0.0.2', '--node', 'b', '--allow-unknown-node'], { redis: redis.url });
  t.is(r.code, 0, r.stderr);
  const vip = (await store.getService('default', 'reviews'))!.vip!;
  t.true(inRange(vip, DEFAULT_VIP_CIDR));

  const table = await ambit(['get', 'services'], { redis: redis.url });
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, new RegExp(`default\\s+reviews\\s+9080\\s+${vip.replaceAll('.', '\\.')}\\s+1`));
  t.notRegex(table.stdout, /<pending>/);
  const json = await ambit(['get', 'services', 'reviews', '-o', 'json'], { redis: redis.url });
  t.is((JSON.parse(json.stdout) as { vip?: string }).vip, vip);
});
