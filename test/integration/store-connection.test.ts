import test from 'ava';
import { createServer, type Server, type Socket } from 'node:net';
import { StoreError } from '../../core/errors.js';
import { redactUrl, redisOptions, Store } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis({ password: 's3cret pass' });
});
test.after.always(async () => {
  await redis?.stop();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

test('nothing listening: EREDIS_UNREACHABLE at once, naming the URL but never the password', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const err = await t.throwsAsync(Store.connect({ url: `redis://:hunter2@127.0.0.1:${port}` }), { instanceOf: StoreError });
  t.true(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  t.is(err.code, 'EREDIS_UNREACHABLE');
  t.is(
    err.message,
    `cannot reach Redis at redis://:***@127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); start redis-server or pass --redis URL / AMBIT_REDIS_URL`,
  );
  t.false(err.message.includes('hunter2'));
});

test('a peer that accepts but never answers: EREDIS_UNREACHABLE after connectTimeoutMs', async (t) => {
  const sockets: Socket[] = [];
  // Reads and ignores everything: like a firewall that accepts, or a hung server.
  const silent = createServer((s) => sockets.push(s.resume()));
  const port = await listen(silent);
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const started = Date.now();
  const err = await t.throwsAsync(Store.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 400 }), { instanceOf: StoreError });
  const took = Date.now() - started;
  t.true(took >= 350 && took < 2000, `took ${took} ms`);
  t.is(err.code, 'EREDIS_UNREACHABLE');
  t.regex(err.message, new RegExp(`redis://127\\.0\\.0\\.1:${port}`));
});

test('credentials: the right password connects, a wrong or missing one fails at once with EREDIS_AUTH', async (t) => {
  const ok = await Store.connect({ url: redis.url });
  t.is(await ok.revision(), 0);
  await ok.close();
  const viaOption = await Store.connect({ url: `redis://127.0.0.1:${redis.port}`, password: 's3cret pass' });
  await viaOption.close();

  const wrong = await t.throwsAsync(Store.connect({ url: `redis://:nope@127.0.0.1:${redis.port}` }), { instanceOf: StoreError });
  t.is(wrong.code, 'EREDIS_AUTH');
  t.false(wrong.message.includes('nope'));
  const missing = await t.throwsAsync(Store.connect({ url: `redis://127.0.0.1:${redis.port}` }), { instanceOf: StoreError });
  t.is(missing.code, 'EREDIS_AUTH');
  t.regex(missing.message, /password is required/);
});

test('option mapping: URLs, TLS, Sentinel', (t) => {
  const plain = redisOptions({});
  t.like(plain, { host: '127.0.0.1', port: 6379 });
  const full = redisOptions({ url: 'rediss://alice:p%40ss@redis.example:6380/2' });
  t.like(full, { host: 'redis.example', port: 6380, username: 'alice', password: 'p@ss', db: 2, tls: { servername: 'redis.example' } });
  t.deepEqual(redisOptions({ url: 'redis://h:1', tls: { rejectUnauthorized: false } }).tls, { rejectUnauthorized: false });
  t.like(redisOptions({ url: 'redis://:x@h:1', password: 'override' }), { password: 'override' });
  const sentinel = redisOptions({ sentinels: [{ host: 's1', port: 26379 }], sentinelName: 'ambit', password: 'pw', tls: true });
  t.like(sentinel, { name: 'ambit', password: 'pw', enableTLSForSentinelMode: true });
  t.deepEqual(sentinel.sentinels, [{ host: 's1', port: 26379 }]);
  t.throws(() => redisOptions({ url: 'http://h:1' }), { code: 'EREDIS_URL' });
  t.throws(() => redisOptions({ url: 'redis://h:1/abc' }), { code: 'EREDIS_URL' });
  t.is(redactUrl('redis://u:secret@h:1/0'), 'redis://u:***@h:1/0');
  t.is(redactUrl('redis://h:1'), 'redis://h:1');
});
