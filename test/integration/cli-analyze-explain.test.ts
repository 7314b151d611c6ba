/**
 * `ambit explain` and `ambit analyze` as a user runs them: the real CLI against
 * a real redis-server, the mesh made with `ambit enroll`, `ambit waypoint
 * attach` and `ambit apply` (the waypoint marked ready as its daemon would),
 * then the answers read back as JSON and through the exit status CI sees.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../core/store/index.js';
import { waypointOf } from '../../core/store/waypoints.js';
import type { Explanation } from '../../cli/explain/explain.js';
import type { Finding } from '../../cli/analyze/findings.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { istioFixtures, MISSING_FIXTURES } from '../helpers/fixtures.js';

let redis: RedisServer;
let store: Store;
const tmp = mkdtempSync(join(tmpdir(), 'ambit-cli-explain-'));
const run = (args: string[]) => ambit(args, { redis: redis.url });
const bookinfo = istioFixtures('bookinfo');

const POLICIES = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-from-reviews
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-no-admin
spec:
  targetRefs:
  - kind: Service
    group: ""
    name: reviews
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin*"]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: details-strict
spec:
  selector:
    matchLabels:
      app: details
  mtls:
    mode: STRICT
`;

async function ok(args: string[]): Promise<string> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`ambit ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test.before(async () => {
  redis = await startRedis();
  store = await Store.connect({ url: redis.url });
  await store.heartbeatNode({ name: 'a', address: '10.0.0.1', hbonePort: 15008 }, 600);
  await store.heartbeatNode({ name: 'b', address: '10.0.0.2', hbonePort: 15008 }, 600);
  const enroll = (svc: string, node: string, address: string, sa: string, labels: string[], user?: string) =>
    ok([
      'enroll',
      svc,
      '--port',
      '9080',
      '--node',
      node,
      '--address',
      address,
      '--service-account',
      sa,
      ...labels.flatMap((l) => ['-l', l]),
      ...(user ? ['--user', user] : []),
    ]);
  await enroll('productpage', 'a', '10.0.0.1', 'bookinfo-productpage', ['app=productpage', 'version=v1'], '2001');
  await enroll('details', 'b', '10.0.3.1', 'bookinfo-details', ['app=details', 'version=v1']);
  for (const [i, v] of ['v1', 'v2', 'v3'].entries())
    await enroll('reviews', 'b', `10.0.1.${i + 1}`, 'bookinfo-reviews', ['app=reviews', `version=${v}`], String(2100 + i));
  await enroll('ratings', 'b', '10.0.2.1', 'bookinfo-ratings', ['app=ratings', 'version=v1']);
  await ok(['waypoint', 'attach', 'reviews', '--node', 'b', '--no-wait']);
  // What ambitd on b reports once the waypoint it started answers.
  const wp = (await store.listEndpoints({})).find((e) => waypointOf(e));
  await store.setWaypointReady(wp!, true);
  const policies = join(tmp, 'policies.yaml');
  writeFileSync(policies, POLICIES);
  await ok(['apply', '-f', policies]);
  if (bookinfo) {
    await ok(['apply', '-f', bookinfo.find((f) => f.endsWith('destination-rule-all.yaml'))!]);
    await ok(['apply', '-f', bookinfo.find((f) => f.endsWith('virtual-service-reviews-jason-v2-v3.yaml'))!]);
  }
});
test.after.always(async () => {
  await store?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function explain(...args: string[]): Promise<Explanation> {
  return JSON.parse(await ok(['explain', ...args, '-o', 'json'])) as Explanation;
}

test('explain: an allowed request, an L4 deny, an L7 deny by path, a STRICT plaintext refusal', async (t) => {
  const allowed = await explain('productpage', 'details');
  t.is(allowed.verdict, 'allowed');
  t.like(allowed.paths[0], { address: '10.0.3.1', node: 'b', verdict: 'allowed' });

  const l4 = await explain('productpage', 'ratings:9080');
  t.is(l4.verdict, 'denied');
  t.regex(l4.paths[0]!.steps.find((s) => s.stage === 'authorization')!.text, /ambitd on b \(L4.*no ALLOW policy matched \(default\/ratings-from-reviews\)/);

  const l7 = await explain('productpage', 'reviews', '--path', '/admin/users');
  t.is(l7.verdict, 'denied');
  t.like(
    l7.steps.find((s) => s.stage === 'authorization'),
    { policy: 'default/reviews-no-admin', rule: 0, verdict: 'denied' },
  );

  const strict = await explain('192.0.2.7', '10.0.3.1:9080');
  t.is(strict.verdict, 'refused');
  t.regex(strict.paths[0]!.steps[0]!.text, /STRICT/);

  // The text form says the same, verdict first.
  t.regex(await ok(['explain', 'productpage', 'ratings']), /^productpage -> ratings: DENIED\n/);
  const bad = await run(['explain', 'productpage', 'nosuch']);
  t.is(bad.code, 2, 'a TO that names nothing is a usage error');
  t.regex(bad.stderr, /TO nosuch: no service/);
});

if (!bookinfo) {
  test.skip(`explain jason -> reviews v2: ${MISSING_FIXTURES}`, (t) => t.log(`SKIPPED: ${MISSING_FIXTURES}`));
} else {
  test("explain: Bookinfo's end-user route sends jason to reviews v2", async (t) => {
    const jason = await explain('productpage', 'reviews:9080', '--header', 'end-user=jason');
    t.is(jason.verdict, 'allowed');
    t.deepEqual(
      jason.paths.map((p) => [p.subset, p.address]),
      [['v2', '10.0.1.2']],
    );
    const mark = await explain('productpage', 'reviews:9080', '--header', 'end-user=mark');
    t.deepEqual(
      mark.paths.map((p) => p.subset),
      ['v3'],
    );
  });
}

test('analyze: the applied config is clean; a file with a mistake fails CI with its code, file and line; --fail-on warning', async (t) => {
  const clean = await run(['analyze']);
  t.is(clean.code, 0, clean.stdout + clean.stderr);
  t.is(clean.stdout, 'No issues found.\n');

  const file = join(REPO_ROOT, 'test/fixtures/analyze/subset-undefined.yaml');
  const broken = await run(['analyze', '-f', file]);
  t.is(broken.code, 1, broken.stderr);
  t.regex(broken.stdout, /^Error \[EANALYZE_SUBSET_UNDEFINED\] \(VirtualService default\/reviews .*subset-undefined\.yaml:16\)/m);
  t.regex(broken.stdout, /fix: add subset v4/);
  t.is((await store.list('VirtualService')).length, bookinfo ? 1 : 0, 'analyze changed nothing in the store');

  const warning = join(REPO_ROOT, 'test/fixtures/analyze/no-waypoint.yaml');
  const warned = await run(['analyze', '-f', warning, '-o', 'json']);
  t.is(warned.code, 0, 'warnings alone pass by default');
  t.deepEqual(
    (JSON.parse(warned.stdout) as Finding[]).map((f) => [f.code, f.severity]),
    [['EANALYZE_NO_WAYPOINT', 'Warning']],
  );
  t.is((await run(['analyze', '-f', warning, '--fail-on', 'warning'])).code, 1);

  const usage = await run(['analyze', '--fail-on', 'sometimes']);
  t.is(usage.code, 2);
  const mismatch = await run(['analyze', '-n', 'default', '-f', join(REPO_ROOT, 'test/fixtures/analyze/namespace-mismatch.yaml')]);
  t.is(mismatch.code, 1);
  t.regex(mismatch.stdout, /EANALYZE_NAMESPACE_MISMATCH/);
});
