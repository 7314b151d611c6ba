import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../core/store/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ambit } from '../helpers/cli.js';

let redis: RedisServer;
let store: Store;
const tmp = mkdtempSync(join(tmpdir(), 'ambit-cli-registry-'));
test.before(async () => {
  redis = await startRedis();
  store = await Store.connect({ url: redis.url });
  // Nodes b and c run ambitd (a heartbeat each); enroll refuses nodes the store does not know.
  for (const name of ['b', 'c', 'vm-7', 'vm-8']) await store.heartbeatNode({ name, address: '10.0.0.9', hbonePort: 15008 }, 600);
});
test.after.always(async () => {
  await store?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const run = (args: string[], env: NodeJS.ProcessEnv = {}) => ambit(args, { redis: redis.url, env });

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
  const { kind, items: list } = JSON.parse(endpoints.stdout) as {
    kind: string;
    items: { node: string; serviceAccount: string; labels: Record<string, string>; uid?: number }[];
  };
  t.is(kind, 'List', 'the endpoints of a service are several: a List');
  const one = JSON.parse((await run(['get', 'services', 'reviews', '-o', 'json'])).stdout) as { name: string; ports: number[] };
  t.like(one, { name: 'reviews', ports: [9080] }, 'NAME: the object itself, as kubectl prints it');
  const all = JSON.parse((await run(['get', 'svc', '-o', 'json'])).stdout) as { apiVersion: string; kind: string; items: { name: string }[] };
  t.like(all, { apiVersion: 'v1', kind: 'List' });
  t.deepEqual(
    all.items.map((s) => s.name),
    ['reviews'],
  );
  t.regex((await run(['get', 'nodes', '-o', 'yaml'])).stdout, /^apiVersion: v1\nkind: List\nitems:\n/);
  t.deepEqual(list.map((e) => [e.node, e.serviceAccount, e.labels.version]).sort(), [
    ['b', 'reviews', 'v1'],
    ['c', 'bookinfo-reviews', 'v2'],
  ]);
  t.is(typeof list.find((e) => e.node === 'b')!.uid, 'number');
  const un = await run(['unenroll', 'reviews', '--node', 'b']);
  t.is(un.code, 0, un.stderr);
  t.regex(un.stdout, /1 endpoint\)/);
  t.is((await run(['unenroll', 'reviews', '--all-nodes'])).code, 0);
  t.regex((await run(['get', 'services'])).stdout, /No resources found/);
});

test.serial(
  "without --node, enroll, unenroll and waypoint attach act on this host's node: AMBIT_NODE, else node.name in ambitd.yaml, else the hostname",
  async (t) => {
    const config = join(tmp, 'ambitd.yaml');
    writeFileSync(config, 'node:\n  name: vm-7\n');
    const fromFile = await run(['enroll', 'ratings', '--port', '9080', '--address', '10.0.0.7'], { AMBIT_CONFIG: config });
    t.is(fromFile.code, 0, fromFile.stderr);
    t.regex(fromFile.stdout, /on node vm-7 /);
    const fromEnv = await run(['enroll', 'ratings', '--port', '9080', '--address', '10.0.0.8'], { AMBIT_CONFIG: config, AMBIT_NODE: 'vm-8' });
    t.is(fromEnv.code, 0, fromEnv.stderr);
    t.regex(fromEnv.stdout, /on node vm-8 /);
    const attach = await run(['waypoint', 'attach', 'ratings', '--no-wait'], { AMBIT_CONFIG: config });
    t.is(attach.code, 0, attach.stderr);
    t.regex(attach.stdout, /on node vm-7 /);
    t.is((await run(['waypoint', 'detach', 'ratings'])).code, 0);

    // unenroll without --node: only this host's endpoint, not every node's.
    const un = await run(['unenroll', 'ratings'], { AMBIT_NODE: 'vm-8' });
    t.is(un.code, 0, un.stderr);
    t.regex(un.stdout, /unenrolled default\/ratings on node vm-8 \(1 endpoint\)/);
    t.deepEqual(
      (await store.listEndpoints({ service: 'ratings' })).map((e) => e.node),
      ['vm-7'],
    );
    const none = await run(['unenroll', 'ratings'], { AMBIT_NODE: 'vm-8' });
    t.is(none.code, 1);
    t.regex(none.stderr, /node vm-8.*not found; it is enrolled on node vm-7: pass --node NAME, or --all-nodes/);
    t.is((await run(['unenroll', 'ratings', '--all-nodes'])).code, 0);
    t.deepEqual(await store.listEndpoints({ service: 'ratings' }), []);

    // No AMBIT_NODE, no settings file: the hostname, which is no node here.
    const byHost = await run(['enroll', 'ratings', '--port', '9080', '--address', '10.0.0.7'], { AMBIT_CONFIG: '' });
    t.is(byHost.code, 2, byHost.stderr);
    t.regex(
      byHost.stderr,
      new RegExp(
        `node ${hostname()} \\(this host, from the hostname\\) is not in the mesh( \\(did you mean .*\\))? \\(known nodes: b, c, vm-7, vm-8; see ambit node list\\)`,
      ),
    );
    t.regex(byHost.stderr, /--allow-unknown-node/);
    const broken = join(tmp, 'broken.yaml');
    writeFileSync(broken, 'node:\n  nmae: vm-7\n');
    const bad = await run(['enroll', 'ratings', '--port', '9080'], { AMBIT_CONFIG: broken });
    t.not(bad.code, 0);
    t.regex(bad.stderr, /broken\.yaml/);
    t.deepEqual(await store.listEndpoints({ service: 'ratings' }), [], 'nothing was enrolled');
  },
);

test.serial('enroll onto a node the store does not know is refused, naming the known ones, unless --allow-unknown-node', async (t) => {
  const refused = await run(['enroll', 'details', '--port', '9080', '--address', '10.0.0.5', '--node', 'vm-9']);
  t.is(refused.code, 2);
  t.regex(
    refused.stderr,
    /^error: node vm-9 is not in the mesh \(did you mean vm-7 or vm-8\?\) \(known nodes: b, c, vm-7, vm-8; see ambit node list\): join it first \(ambit node token create --node vm-9/m,
  );
  t.deepEqual(await store.listEndpoints({ service: 'details' }), []);
  const allowed = await run(['enroll', 'details', '--port', '9080', '--address', '10.0.0.5', '--node', 'vm-9', '--allow-unknown-node']);
  t.is(allowed.code, 0, allowed.stderr);
  const typo = await run(['waypoint', 'attach', 'details', '--node', 'vm7', '--no-wait']);
  t.regex(typo.stderr, /node vm7 \(did you mean vm-7\?\)/);
  t.is((await run(['unenroll', 'details', '--node', 'vm-9'])).code, 0);
});

test.serial('enrolling an endpoint again keeps the user, service account and labels the flags do not give', async (t) => {
  const first = await run(['enroll', 'mail', '--port', '25', '--node', 'b', '--user', 'nobody', '--service-account', 'postfix', '-l', 'version=v1']);
  t.is(first.code, 0, first.stderr);
  const uid = (await store.listEndpoints({ service: 'mail' }))[0]!.uid;
  t.is(typeof uid, 'number');
  const again = await run(['enroll', 'mail', '--port', '25', '--node', 'b']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /as sa postfix, user nobody \(uid \d+\); kept from the existing endpoint: --address, --service-account, --label, --user/);
  const [kept] = await store.listEndpoints({ service: 'mail' });
  t.like(kept, { user: 'nobody', uid, serviceAccount: 'postfix', labels: { version: 'v1' }, address: '10.0.0.9' });
  // A flag that is given replaces the value (labels as a set), the rest stays.
  t.is((await run(['enroll', 'mail', '--port', '25', '--node', 'b', '-l', 'version=v2'])).code, 0);
  const [relabelled] = await store.listEndpoints({ service: 'mail' });
  t.like(relabelled, { user: 'nobody', uid, serviceAccount: 'postfix', labels: { version: 'v2' } });
  t.is((await store.listEndpoints({ service: 'mail' })).length, 1, 'updated in place, not a second endpoint');
  // Another port is another endpoint: nothing to keep.
  t.is((await run(['enroll', 'mail', '--port', '587', '--node', 'b'])).code, 0);
  const submission = (await store.listEndpoints({ service: 'mail' })).find((e) => e.port === 587)!;
  t.is(submission.uid, undefined);
  t.is(submission.serviceAccount, 'mail');
  t.is((await run(['unenroll', 'mail', '--all-nodes'])).code, 0);
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

test.serial('node list shows the nodes; node remove refuses a node with enrollments unless --force, and a name the mesh does not know', async (t) => {
  const list = await run(['node', 'list']);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^NAME\s+JOINED\s+ADDRESS\s+LAST SEEN\s+STORE USER\n/);
  t.regex(list.stdout, /\nvm-8\s+-\s+10\.0\.0\.9\s+\d+s\s+-\n/);
  const json = JSON.parse((await run(['node', 'list', '-o', 'json'])).stdout) as { kind: string; items: { name: string }[] };
  t.is(json.kind, 'List', 'every list the CLI prints has one shape');
  t.true(json.items.some((n) => n.name === 'vm-8'));
  t.regex((await run(['waypoint', 'list', '-o', 'yaml'])).stdout, /^apiVersion: v1\nkind: List\nitems: /);

  t.is((await run(['enroll', 'cart', '--port', '8080', '--address', '10.0.0.8', '--node', 'vm-8'])).code, 0);
  const busy = await run(['node', 'remove', 'vm-8']);
  t.is(busy.code, 1);
  t.regex(
    busy.stderr,
    /^error: node vm-8 still has 1 endpoint enrolled \(default\/cart 10\.0\.0\.8:8080\): unenroll or move them first \(ambit unenroll SERVICE --node vm-8\), or pass --force/,
  );
  t.is((await store.listEndpoints({ node: 'vm-8' })).length, 1, 'nothing removed');
  t.truthy(await store.getNode('vm-8'));

  const typo = await run(['node', 'remove', 'vm8']);
  t.is(typo.code, 1);
  t.regex(typo.stderr, /^error: node vm8 \(did you mean vm-8\?\) \(see ambit node list\) not found/);

  const forced = await run(['node', 'remove', 'vm-8', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.regex(forced.stdout, /^removed node vm-8: 1 endpoint unenrolled/);
  t.deepEqual(await store.listEndpoints({ node: 'vm-8' }), []);
  t.is(await store.getNode('vm-8'), undefined);
  t.notRegex((await run(['node', 'list'])).stdout, /vm-8/);
  await store.heartbeatNode({ name: 'vm-8', address: '10.0.0.9', hbonePort: 15008 }, 600);
});
