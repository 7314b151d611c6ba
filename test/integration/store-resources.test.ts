import test from 'ava';
import type { Resource } from '../../core/config/resource.js';
import { NotFoundError, StoreError } from '../../core/errors.js';
import { keysFor, Store } from '../../core/store/index.js';
import { APPLY_LUA } from '../../core/store/scripts.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let n = 0;
// Tests in a file run concurrently; a key prefix each keeps their revisions apart.
const connect = (extra: { changeLogLength?: number } = {}) => Store.connect({ url: redis.url, keyPrefix: `res${++n}:`, ...extra });

test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

function vs(name: string, host = name, namespace = 'default'): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

test('apply, get, list and delete round trip', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  t.is(await store.revision(), 0);
  const res = await store.apply([vs('reviews'), vs('ratings'), vs('reviews', 'reviews', 'prod')]);
  t.is(res.revision, 1);
  t.deepEqual(
    res.results.map((r) => r.action),
    ['created', 'created', 'created'],
  );

  const got = await store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' });
  t.truthy(got);
  t.deepEqual(got!.spec, vs('reviews').spec);
  t.is(got!.metadata.resourceVersion, '1');
  t.is(got!.metadata.generation, 1);
  t.regex(got!.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT/);
  t.regex(got!.metadata.uid!, /^[0-9a-f-]{36}$/);
  t.is(await store.get({ kind: 'VirtualService', namespace: 'default', name: 'nope' }), undefined);

  t.deepEqual(
    (await store.list()).map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    ['default/ratings', 'default/reviews', 'prod/reviews'],
  );
  t.is((await store.list('VirtualService', 'prod')).length, 1);
  t.is((await store.list('DestinationRule')).length, 0);

  const del = await store.delete([{ kind: 'VirtualService', namespace: 'default', name: 'ratings' }]);
  t.is(del.revision, 2);
  t.deepEqual(del.deleted, [{ kind: 'VirtualService', namespace: 'default', name: 'ratings' }]);
  t.is((await store.list()).length, 2);
});

test('re-apply reports unchanged without a revision bump; changes report configured', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.apply([vs('a'), vs('b')]);
  const first = await store.get({ kind: 'VirtualService', namespace: 'default', name: 'a' });

  // Same content, different key order and store metadata echoed back (as `get -o yaml` prints it).
  const echoed: Resource = {
    spec: { http: vs('a').spec.http, hosts: ['a'] },
    metadata: { ...first!.metadata },
    kind: 'VirtualService',
    apiVersion: 'networking.istio.io/v1',
  };
  const same = await store.apply([echoed, vs('b')]);
  t.is(same.revision, 1);
  t.deepEqual(
    same.results.map((r) => r.action),
    ['unchanged', 'unchanged'],
  );

  const annotated = { ...vs('a'), metadata: { name: 'a', namespace: 'default', annotations: { note: 'x' } } };
  const res = await store.apply([annotated, vs('b'), vs('c')]);
  t.is(res.revision, 2);
  t.deepEqual(
    res.results.map((r) => r.action),
    ['configured', 'unchanged', 'created'],
  );
  const a = await store.get({ kind: 'VirtualService', namespace: 'default', name: 'a' });
  t.is(a!.metadata.resourceVersion, '2');
  t.is(a!.metadata.generation, 1, 'annotations alone do not bump generation');
  t.is(a!.metadata.creationTimestamp, first!.metadata.creationTimestamp);
  t.is(a!.metadata.uid, first!.metadata.uid);
  const b = await store.get({ kind: 'VirtualService', namespace: 'default', name: 'b' });
  t.is(b!.metadata.resourceVersion, '1', 'unchanged documents keep their resourceVersion');

  await store.apply([{ ...annotated, spec: { hosts: ['a2'] } }]);
  const a2 = await store.get({ kind: 'VirtualService', namespace: 'default', name: 'a' });
  t.is(a2!.metadata.generation, 2, 'a spec change bumps generation');
  t.is(a2!.metadata.resourceVersion, '3');
});

test('an invalid document rejects the whole batch before anything is written', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.apply([vs('keep')]);
  const bad = { ...vs('bad'), metadata: { name: 'has/slash', namespace: 'default' } };
  const err = await t.throwsAsync(store.apply([vs('new1'), bad, vs('new2')]), { instanceOf: StoreError });
  t.is(err.code, 'ESTORE_INVALID');
  t.regex(err.message, /metadata\.name/);
  t.is(await store.revision(), 1);
  t.deepEqual(
    (await store.list()).map((r) => r.metadata.name),
    ['keep'],
  );

  const dup = await t.throwsAsync(store.apply([vs('x'), vs('x')]), { instanceOf: StoreError });
  t.is(dup.code, 'ESTORE_INVALID');
  t.is(await store.revision(), 1);
});

test('the apply script itself is all-or-nothing: a bad document late in the batch writes nothing', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.apply([vs('keep')]);
  const k = store.keys;
  // Bypass client-side checks: document 2 is fine, document 3 has a malformed key.
  const docs = [
    ['VirtualService/default/keep', '{"changed":true}', 'c1', 'g1', 'u1'],
    ['VirtualService/default/fresh', '{"x":1}', 'c2', 'g2', 'u2'],
    ['not-a-key', '{"x":1}', 'c3', 'g3', 'u3'],
  ];
  const err = await t.throwsAsync(
    store.redis.eval(
      APPLY_LUA,
      5,
      k.revision,
      k.resources,
      k.resourceMeta,
      k.changes,
      k.manifest,
      k.channel,
      100,
      'now',
      docs.length,
      ...docs.flat(),
      '',
      '',
      '',
    ),
  );
  t.regex(err.message, /ESTORE_INVALID apply: malformed resource key "not-a-key"/);
  t.is(await store.revision(), 1);
  t.deepEqual(await store.redis.hkeys(k.resources), ['VirtualService/default/keep']);
  t.is(await store.redis.xlen(k.changes), 1);
  t.deepEqual((await store.get({ kind: 'VirtualService', namespace: 'default', name: 'keep' }))!.spec, vs('keep').spec);
});

test('deleting a missing resource fails and deletes nothing, unless ignoreNotFound', async (t) => {
  const store = await connect();
  t.teardown(() => store.close());
  await store.apply([vs('a'), vs('b')]);
  const refs = [
    { kind: 'VirtualService', namespace: 'default', name: 'a' },
    { kind: 'VirtualService', namespace: 'default', name: 'ghost' },
  ];
  const err = await t.throwsAsync(store.delete(refs), { instanceOf: NotFoundError });
  t.is(err.code, 'ESTORE_NOT_FOUND');
  t.regex(err.message, /VirtualService\/default\/ghost not found/);
  t.is(await store.revision(), 1);
  t.is((await store.list()).length, 2);

  const res = await store.delete(refs, { ignoreNotFound: true });
  t.is(res.revision, 2);
  t.deepEqual(
    res.deleted.map((r) => r.name),
    ['a'],
  );
  const none = await store.delete([refs[1]!], { ignoreNotFound: true });
  t.is(none.revision, 2, 'nothing deleted: no revision bump');
  t.deepEqual(none.deleted, []);
});

test('snapshot and changesSince replay to the same state; a trimmed log reports a gap', async (t) => {
  const store = await connect({ changeLogLength: 4 });
  t.teardown(() => store.close());
  await store.apply([vs('a'), vs('b')]); // rev 1: two entries
  await store.apply([vs('c')]); // rev 2
  const snap = await store.snapshot();
  t.is(snap.revision, 2);
  t.deepEqual([...snap.resources.keys()], ['VirtualService/default/a', 'VirtualService/default/b', 'VirtualService/default/c']);

  const changes = await store.changesSince(0);
  t.deepEqual(
    changes?.map((c) => `${c.revision}:${c.type}`),
    ['1:resource-put', '1:resource-put', '2:resource-put'],
  );
  t.deepEqual(await store.changesSince(2), []);

  await store.delete([{ kind: 'VirtualService', namespace: 'default', name: 'a' }]); // rev 3
  await store.apply([vs('d'), vs('e')]); // rev 4: the log now holds 4 entries, rev 1's first is gone
  t.is(await store.changesSince(0), undefined, 'revision 1 was trimmed');
  t.deepEqual(
    (await store.changesSince(2))?.map((c) => c.revision),
    [3, 4, 4],
  );
  t.is(await store.changesSince(99), undefined, 'a revision from the future means Redis went back');
});

test('key prefixes keep meshes apart in one Redis', async (t) => {
  const one = await connect();
  const two = await connect();
  t.teardown(async () => {
    await one.close();
    await two.close();
  });
  await one.apply([vs('only-in-one')]);
  t.is((await two.list()).length, 0);
  t.is(await two.revision(), 0);
  t.not(keysFor('x:').channel, keysFor('y:').channel);
});

test('a batch with more arguments than a JavaScript call takes applies and deletes in one revision', async (t) => {
  // 30,000 documents are 150,000 script arguments; spread into one call they overflowed the stack.
  const store = await connect();
  t.teardown(() => store.close());
  const many = Array.from({ length: 30_000 }, (_, i) => vs(`bulk-${i}`));
  const applied = await store.apply(many);
  t.is(applied.revision, 1);
  t.is(applied.results.filter((r) => r.action === 'created').length, 30_000);
  const deleted = await store.delete(many.map((r) => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name })));
  t.is(deleted.revision, 2);
  t.is(deleted.deleted.length, 30_000);
});
