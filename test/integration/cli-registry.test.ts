import test from 'ava';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ambit } from '../helpers/cli.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const run = (args: string[]) => ambit(args, { redis: redis.url });

test.serial('enroll records the endpoint and its service; unenroll removes them', async (t) => {
  const a = await run(['enroll', 'reviews', '--port', '9080', '--address', '10.0.0.2', '--node', 'b', '--user', 'nobody', '-l', 'version=v1']);
  t.is(a.code, 0, a.stderr);
  t.regex(a.stdout, /enrolled default\/reviews at 10\.0\.0\.2:9080 on node b as sa reviews, user nobody \(uid \d+\)/);
  t.is(
    (await run(['enroll', 'reviews', '--port', '9080', '--address', '10.0.0.3', '--node', 'c', '-l', 'version=v2', '--service-account', 'bookinfo-reviews']))
      .code,
    0,
  );
  const services = await run(['get', 'services']);
  t.regex(services.stdout, /default\s+reviews\s+9080\s+\S+\s+2/);
  const endpoints = await run(['get', 'endpoints', 'reviews', '-o', 'json']);
  const list = JSON.parse(endpoints.stdout) as { node: string; serviceAccount: string; labels: Record<string, string>; uid?: number }[];
  t.deepEqual(list.map((e) => [e.node, e.serviceAccount, e.labels.version]).sort(), [
    ['b', 'reviews', 'v1'],
    ['c', 'bookinfo-reviews', 'v2'],
  ]);
  t.is(typeof list.find((e) => e.node === 'b')!.uid, 'number');
  const un = await run(['unenroll', 'reviews', '--node', 'b']);
  t.is(un.code, 0, un.stderr);
  t.regex(un.stdout, /1 endpoint\)/);
  t.is((await run(['unenroll', 'reviews'])).code, 0);
  t.regex((await run(['get', 'services'])).stdout, /No resources found/);
});

test.serial('enroll refuses bad input before touching the store', async (t) => {
  const cases: [string[], RegExp][] = [
    [['enroll', 'Reviews', '--port', '9080'], /must be a DNS label/],
    [['enroll', 'reviews', '--port', '99999'], /port "99999" must be a number from 1 to 65535/],
    [['enroll', 'reviews', '--port', '9080', '--address', 'not-an-ip'], /is not an IP address/],
    [['enroll', 'reviews', '--port', '9080', '--user', 'no-such-user-ambit'], /no such Unix user/],
    [['enroll', 'reviews', '--port', '9080', '-l', 'novalue'], /expected key=value/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message);
  }
  t.regex((await run(['get', 'services'])).stdout, /No resources found/);
});

test('an unreachable Redis is one line on stderr, naming where it tried, and a non-zero exit', async (t) => {
  const r = await ambit(['get', 'vs'], { redis: 'redis://127.0.0.1:1', env: { AMBIT_REDIS_TIMEOUT_MS: '1500' } });
  t.is(r.code, 1);
  t.is(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^error: .*redis:\/\/127\.0\.0\.1:1/);
});

test('version prints the package version', async (t) => {
  const r = await ambit(['version', '-o', 'json']);
  t.is(r.code, 0);
  t.regex((JSON.parse(r.stdout) as { ambit: string }).ambit, /^\d+\.\d+\.\d+/);
});
