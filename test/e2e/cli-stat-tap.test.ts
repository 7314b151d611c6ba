/**
 * `ambit stat` and `ambit tap` against real daemons and a real waypoint on
 * netns hosts, with Istio's Bookinfo reviews-jason-v2-v3 route: reviews v2 on
 * b (which runs the waypoint), v3 on a beside the productpage client. tap on b
 * shows each of jason's requests going to v2 while it runs; stat's counts equal
 * the requests the test sent, from the proxies' /metrics and from a real
 * Prometheus scraping the targets `ambit prometheus sd` gives it.
 */
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AMBIT } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { istioFixtures, ISTIO_FIXTURES, MISSING_FIXTURES } from '../helpers/fixtures.js';
import { httpLoad } from '../helpers/http-load.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { waitForOutput } from '../helpers/netns.js';
import { requireNetns } from '../helpers/netns-guard.js';

const CLIENT_UID = 2101;
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080';
const BOOKINFO = join(ISTIO_FIXTURES, 'bookinfo');

interface StatJson {
  windowSeconds: number;
  source: string;
  rows: {
    namespace: string;
    service: string;
    from?: { namespace: string; workload: string };
    requests: number;
    successRate?: number;
    latencyMs: { p50?: number; p99?: number };
    tcp: { opened: number };
  }[];
}

let mesh: Mesh;

const send = async (path: string, count: number, user: string) => {
  const r = await httpLoad(mesh, 'a', CLIENT_UID, `${REVIEWS}${path}`, count, Math.min(count, 4), [`end-user:${user}`]);
  if ((r.statuses['200'] ?? 0) !== count) throw new Error(`${count} GET ${path} as ${user}: ${JSON.stringify(r)}`);
  return r;
};

const stat = async (args: string[]): Promise<StatJson> => {
  const r = await mesh.ambit('b', ['stat', ...args, '--node', 'b', '-o', 'json']);
  if (r.code !== 0) throw new Error(`ambit stat ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatJson;
};
const requests = (s: StatJson) => s.rows.reduce((n, r) => n + r.requests, 0);

/** The CLI as a long-running process in b, its stdout read as it comes. */
const spawnAmbit = (args: string[]): { child: ChildProcess; lines: () => string[]; stderr: () => string } => {
  const child = mesh.topo.spawn('b', process.execPath, [AMBIT, ...args], {
    env: { ...process.env, AMBIT_REDIS_URL: mesh.redisUrl, AMBIT_REDIS_CREDENTIALS: mesh.credentials.operator, AMBIT_LOG_LEVEL: 'silent' },
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, lines: () => out.split('\n').filter((l) => l !== ''), stderr: () => err };
};

if (!istioFixtures('bookinfo')) {
  test.skip(`ambit stat and tap e2e with Istio's Bookinfo files: ${MISSING_FIXTURES}`, () => undefined);
} else {
  test.before(async () => {
    requireNetns();
    mesh = await createMesh(['a', 'b']);
    for (const host of ['a', 'b']) await mesh.startDaemon(host);
    await mesh.serveText('b', 9080, 'reviews-v2');
    await mesh.enroll('b', ['reviews', '--port', '9080', '-l', 'version=v2']);
    await mesh.serveText('a', 9080, 'reviews-v3');
    await mesh.enroll('a', ['reviews', '--port', '9080', '-l', 'version=v3']);
    await mesh.serveText('b', 9090, 'ratings-v1');
    await mesh.enroll('b', ['ratings', '--port', '9090', '-l', 'app=ratings']);
    await mesh.enroll('a', ['productpage', '--port', '9081', '--user', String(CLIENT_UID), '-l', 'app=productpage', '-l', 'version=v1']);
    const attach = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'b']);
    if (attach.code !== 0) throw new Error(`attach: ${attach.stderr}`);
    const apply = await mesh.ambit('store', [
      'apply',
      '-f',
      join(BOOKINFO, 'destination-rule-all.yaml'),
      '-f',
      join(BOOKINFO, 'virtual-service-reviews-jason-v2-v3.yaml'),
    ]);
    if (apply.code !== 0) throw new Error(`apply: ${apply.stderr}`);
    await eventually(async () => Object.keys((await send('/', 4, 'jason')).bodies).join() === 'reviews-v2', 30_000);
  });

  test.after.always(async () => {
    await mesh?.destroy();
  });

  test.serial("tap reviews: each of jason's requests shows, going to v2, while the tap runs; other paths are filtered out in the waypoint", async (t) => {
    const tap = spawnAmbit(['tap', 'reviews', '--node', 'b', '--path', '/jason', '--max', '6', '--duration', '2m', '-o', 'json']);
    const exited = new Promise<number | null>((resolve) => tap.child.once('exit', resolve));
    // Until the tap has subscribed, requests pass unseen: send until the first shows.
    await eventually(async () => {
      await send('/jason/0', 1, 'jason');
      return tap.lines().length >= 1;
    }, 20_000);
    for (let i = 1; i <= 5; i++) {
      await send(`/mark/${i}`, 1, 'mark');
      await send(`/jason/${i}`, 1, 'jason');
      // As it happens: the line is there before the next request is sent.
      await eventually(async () => tap.lines().length === i + 1, 10_000);
    }
    t.is(await exited, 0, tap.stderr());
    const seen = tap.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    t.deepEqual(
      seen.slice(1).map((r) => r.path),
      ['/jason/1', '/jason/2', '/jason/3', '/jason/4', '/jason/5'],
    );
    for (const r of seen) {
      t.like(r, { method: 'GET', response_code: 200, source_principal: 'spiffe://cluster.local/ns/default/sa/productpage', response_flags: '-' });
      t.regex(String(r.upstream_cluster), /\|v2\|reviews\.default\.svc\.cluster\.local$/, 'the v2 subset');
    }
    // The table form, and a service without a waypoint.
    const table = await mesh.ambit('b', ['tap', 'reviews', '--node', 'b', '--max', '1', '--duration', '2s']);
    t.is(table.code, 0, table.stderr);
    t.regex(table.stderr, /No matching requests for default\/reviews went by/, 'nothing was sent during those 2 s');
    const http = await mesh.ambit('b', ['tap', 'productpage', '--path', '/x', '--node', 'b']);
    t.is(http.code, 2);
    t.regex(http.stderr, /--path: default\/productpage has no waypoint, so only its connections can be tapped.*ambit waypoint attach productpage/);
    const l4elsewhere = await mesh.ambit('b', ['tap', 'productpage', '--node', 'b']);
    t.is(l4elsewhere.code, 1);
    t.regex(l4elsewhere.stderr, /ambitd serving default\/productpage runs on node a.*run ambit tap there/);
    const elsewhere = await mesh.ambit('a', ['tap', 'reviews', '--node', 'a']);
    t.is(elsewhere.code, 1);
    t.regex(elsewhere.stderr, /runs on node b.*run ambit tap there/);
  });

  test.serial('stat reviews: the requests sent, counted exactly, with success rate, latency and the edge from productpage', async (t) => {
    const before = requests(await stat(['reviews', '--window', '0']));
    await send('/stat', 120, 'jason');
    await send('/stat', 80, 'mark');
    const after = await stat(['reviews', '--window', '0']);
    const counted = requests(after) - before;
    t.true(Math.abs(counted - 200) <= 2, `counted ${counted} of the 200 sent`);
    t.is(after.rows.length, 1);
    t.like(after.rows[0], { namespace: 'default', service: 'reviews', successRate: 1 });
    t.true((after.rows[0]!.latencyMs.p50 ?? -1) >= 0 && (after.rows[0]!.latencyMs.p99 ?? -1) >= (after.rows[0]!.latencyMs.p50 ?? 0));
    t.true(after.rows[0]!.tcp.opened >= 1, "the destination daemons' connections from the waypoint");
    const edge = await stat(['reviews', '--from', 'productpage', '--window', '0']);
    t.deepEqual(
      edge.rows.map((r) => r.from),
      [{ namespace: 'default', workload: 'productpage-v1' }],
    );
    t.is(requests(edge), requests(after), 'every request came from productpage');
    // A window counts only what happened in it: nothing was sent during these 2 s.
    const quiet = await stat(['reviews', '--window', '2s']);
    t.is(requests(quiet), 0);
    const table = await mesh.ambit('b', ['stat', '--node', 'b', '--window', '0']);
    t.is(table.code, 0, table.stderr);
    t.log(`\n${table.stdout}`);
    t.regex(table.stdout, /^NAMESPACE\s+SERVICE\s+SUCCESS\s+REQUESTS\s+LATENCY_P50/m);
    t.regex(table.stdout, /^default\s+reviews\s+100\.00%\s+\d+\s/m);
  });

  test.serial('stat --prometheus: a real Prometheus scraping the sd targets gives the same counts', async (t) => {
    const sd = join(mesh.dir, 'ambit-sd.json');
    const sdRun = await mesh.ambit('b', ['prometheus', 'sd', '--node', 'b', '--file', sd]);
    t.is(sdRun.code, 0, sdRun.stderr);
    const config = join(mesh.dir, 'prometheus.yml');
    writeFileSync(config, `global: {scrape_interval: 1s}\nscrape_configs:\n- job_name: ambit\n  file_sd_configs: [{files: ['${sd}']}]\n`);
    const prometheus = mesh.topo.spawn('b', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(mesh.dir, 'prometheus-data')}`,
      '--web.listen-address=127.0.0.1:9090',
    ]);
    await waitForOutput(prometheus, /Server is ready to receive web requests/, 30_000);
    prometheus.stdout?.resume();
    prometheus.stderr?.resume();
    await send('/prom', 50, 'jason');
    const direct = requests(await stat(['reviews', '--window', '0']));
    const url = 'http://127.0.0.1:9090';
    await eventually(async () => requests(await stat(['reviews', '--window', '0', '--prometheus', url])) === direct, 30_000);
    const viaProm = await stat(['reviews', '--window', '0', '--prometheus', url]);
    t.like(viaProm.rows[0], { namespace: 'default', service: 'reviews', successRate: 1 });
    t.regex(viaProm.source, /^prometheus /);
    const bad = await mesh.ambit('b', ['stat', '--prometheus', 'http://127.0.0.1:9', '--node', 'b']);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /Prometheus at http:\/\/127\.0\.0\.1:9 did not answer/);
  });

  test.serial("tap ratings (no waypoint): b's ambitd shows each connection with its identity and bytes, and a denial with the policy", async (t) => {
    const ratings = 'http://ratings.default.svc.cluster.local:9090/';
    const tap = spawnAmbit(['tap', 'ratings', '--node', 'b', '--max', '3', '--duration', '2m', '-o', 'json']);
    const exited = new Promise<number | null>((resolve) => tap.child.once('exit', resolve));
    // One connection per load run (the load's keep-alive connection closes when it exits); until the tap subscribed, they pass unseen.
    const connect = async () => {
      const r = await httpLoad(mesh, 'a', CLIENT_UID, ratings, 1, 1);
      return r.bodies['ratings-v1'] === 1;
    };
    await eventually(async () => (await connect()) && tap.lines().length >= 1, 20_000);
    for (let i = 2; i <= 3; i++) {
      t.true(await connect());
      await eventually(async () => tap.lines().length === i, 10_000);
    }
    t.is(await exited, 0, tap.stderr());
    for (const c of tap.lines().map((l) => JSON.parse(l) as Record<string, unknown>)) {
      t.like(c, {
        source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
        destination_service: 'ratings.default.svc.cluster.local',
        destination: `${mesh.topo.host('b').address}:9090`,
        security: 'mutual_tls',
        authz: 'allow',
      });
      t.true(Number(c.bytes_received) > 0 && Number(c.bytes_sent) > 'ratings-v1'.length, JSON.stringify(c));
    }
    // Plaintext from root on a (not enrolled, so not captured): PERMISSIVE lets it in, and the tap says it was not mTLS.
    const plain = spawnAmbit(['tap', 'ratings', '--node', 'b', '--max', '1', '--duration', '2m', '-o', 'json']);
    const plainExit = new Promise<number | null>((resolve) => plain.child.once('exit', resolve));
    await eventually(async () => {
      await mesh.topo.exec('a', 'curl', ['-sS', '--max-time', '5', `http://${mesh.topo.host('b').address}:9090/`]);
      return plain.lines().length >= 1;
    }, 20_000);
    t.is(await plainExit, 0, plain.stderr());
    const p = JSON.parse(plain.lines()[0]!) as Record<string, unknown>;
    t.like(p, { security: 'none', authz: 'allow', destination_service: 'ratings.default.svc.cluster.local' });
    t.is(p.source_principal, undefined, 'no identity for a caller outside the mesh');
    const policy = [
      'apiVersion: security.istio.io/v1',
      'kind: AuthorizationPolicy',
      'metadata: {name: ratings-deny-productpage, namespace: default}',
      'spec:',
      '  selector: {matchLabels: {app: ratings}}',
      '  action: DENY',
      '  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/productpage"]}}]}]',
    ].join('\n');
    t.is((await mesh.ambit('store', ['apply', '-f', '-'], policy)).code, 0);
    const denied = spawnAmbit(['tap', 'ratings', '--node', 'b', '--authz', 'deny', '--max', '1', '--duration', '2m']);
    const deniedExit = new Promise<number | null>((resolve) => denied.child.once('exit', resolve));
    await eventually(async () => {
      await httpLoad(mesh, 'a', CLIENT_UID, ratings, 1, 1);
      return denied.lines().length >= 1;
    }, 30_000);
    t.is(await deniedExit, 0, denied.stderr());
    t.log(denied.lines()[0]);
    t.regex(denied.lines()[0]!, /src=ns\/default\/sa\/productpage .*authz=deny\(default\/ratings-deny-productpage\) reason=/);
    t.is((await mesh.ambit('store', ['delete', 'authorizationpolicy', 'ratings-deny-productpage'])).code, 0);
  });
}
