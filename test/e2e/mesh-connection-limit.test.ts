/**
 * ConnectionLimit end to end on netns hosts with real daemons (issue 15): an
 * echo service on b limited to 3 connections per source. An enrolled user on
 * a (tunnelled over HBONE, so its source is its SPIFFE ID) holds 3 open and
 * the 4th is refused by b's daemon; after one closes a new one passes. A
 * client on c, outside the mesh (plaintext to b's address, so its source is
 * c's address), has its own 3, and so does an enrolled user on b itself (the
 * same-node shortcut, no tunnel). A raised limit takes effect without a restart.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { metricSum } from '../helpers/prometheus-text.js';

const CLIENT_UID = 2601;
/** An enrolled user on b itself: its connections to echo take the same-node shortcut, no tunnel. */
const LOCAL_UID = 2602;
const ECHO = 'echo.default.svc.cluster.local';
const HOLDER = fileURLToPath(new URL('fixtures/connection-holder.js', import.meta.url));

let mesh: Mesh;
const holders: ChildProcess[] = [];

interface Holder {
  /** `open` (true when an echo came back through the new connection) or `close N`. */
  open(): Promise<{ open: number; ok: boolean; error?: string }>;
  close(n: number): Promise<void>;
}

/** connection-holder.js on `at` to host:port, as an enrolled user (captured) or as root on c (outside the mesh: plaintext). */
function holder(at: 'a' | 'b' | 'c', uid: number | undefined, host: string, port: number): Holder {
  const args = [HOLDER, host, String(port)];
  const child =
    uid === undefined
      ? mesh.topo.spawn(at, process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
      : mesh.topo.spawn(at, 'setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  holders.push(child);
  child.stderr?.resume();
  const lines: AsyncIterator<string> = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (command: string): Promise<Record<string, unknown>> => {
    child.stdin!.write(`${command}\n`);
    const next = await lines.next();
    if (next.done === true) throw new Error(`connection-holder exited on "${command}"`);
    return JSON.parse(next.value) as Record<string, unknown>;
  };
  return {
    open: async () => (await ask('open')) as { open: number; ok: boolean; error?: string },
    close: async (n) => void (await ask(`close ${n}`)),
  };
}

const limit = (max: number) => `apiVersion: ambit.dev/v1alpha1
kind: ConnectionLimit
metadata: {name: echo-limit, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  maxConnectionsPerSource: ${max}
`;

async function apply(yaml: string): Promise<void> {
  const r = await mesh.ambit('store', ['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
}

const refusals = async (transport: string): Promise<number> =>
  metricSum(await mesh.admin('b', '/metrics', 15020), 'ambit_connection_limit_refusals_total', {
    transport,
    policy: 'default/echo-limit',
    reason: 'per_source',
  });

/**
 * Connections b's daemon holds open to echo, by security policy (mutual_tls: HBONE; none: plaintext), as
 * istio_tcp_connections_opened_total - closed_total: a client's close reaches b a moment after the client sees it.
 */
async function openAtB(policy: 'mutual_tls' | 'none'): Promise<number> {
  const text = await mesh.admin('b', '/metrics', 15020);
  const where = { reporter: 'destination', connection_security_policy: policy };
  return metricSum(text, 'istio_tcp_connections_opened_total', where) - metricSum(text, 'istio_tcp_connections_closed_total', where);
}

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c']);
  for (const host of ['a', 'b']) await mesh.startDaemon(host);
  const b = mesh.topo.host('b').address;
  const echo = mesh.topo.spawn('b', process.execPath, [
    '-e',
    `require('net').createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(9090, ${JSON.stringify(b)}, () => console.log('listening'))`,
  ]);
  await waitForOutput(echo, /listening/);
  await mesh.enroll('b', ['echo', '--port', '9090']);
  await mesh.enroll('a', ['client', '--port', '9000', '--user', String(CLIENT_UID)]);
  await mesh.enroll('b', ['local-client', '--port', '9001', '--user', String(LOCAL_UID)]);
  await apply(limit(3));
  // b's rules for echo are in (plaintext from c reaches it through b's daemon), and b serves the limit.
  await eventually(async () => /AMBIT_PREROUTING .*--dport 9090 -j REDIRECT/.test((await mesh.topo.exec('b', 'iptables-save')).stdout), 15_000);
  await eventually(async () => (await mesh.admin('b', '/config_dump')).includes('maxConnectionsPerSource'), 20_000);
  // a and b know the service (DNS, VIP) and capture their users once a captured connection gets an echo back.
  for (const [host, uid] of [
    ['a', CLIENT_UID],
    ['b', LOCAL_UID],
  ] as const) {
    await eventually(async () => {
      const r = await mesh.asUser(host, uid, process.execPath, [
        '-e',
        `const s = require('net').connect(9090, '${ECHO}', () => s.write('x')); s.on('data', () => process.exit(0)); s.on('error', () => process.exit(1)); s.on('close', () => process.exit(1)); setTimeout(() => process.exit(1), 3000);`,
      ]);
      return r.code === 0;
    }, 30_000);
  }
});

test.after.always(async () => {
  for (const child of holders) child.kill('SIGKILL');
  await mesh?.destroy();
});

test.serial('over HBONE: a source holds 3 connections, the 4th is refused by the destination daemon, and one closing lets a new one in', async (t) => {
  const client = holder('a', CLIENT_UID, ECHO, 9090);
  for (let i = 0; i < 3; i++) t.like(await client.open(), { open: i, ok: true }, `connection ${i + 1} of 3`);
  const before = await refusals('hbone');
  const fourth = await client.open();
  t.false(fourth.ok, 'the 4th gets no echo');
  t.is(await refusals('hbone'), before + 1, "counted on b's daemon");
  t.regex(mesh.logs('b'), /connection refused: its source holds as many as the ConnectionLimit allows/);
  t.regex(mesh.logs('b'), /"src":"spiffe:\/\/cluster\.local\/ns\/default\/sa\/client"/);
  t.regex(mesh.logs('a'), /EHBONE_CONNECTION_LIMIT/, "a's daemon names the refusal it got (503 with the code)");
  t.is(await openAtB('mutual_tls'), 3);
  await client.close(1);
  await eventually(async () => (await openAtB('mutual_tls')) === 2, 10_000);
  t.like(await client.open(), { ok: true }, 'a slot freed by the close');
  t.like(await client.open(), { ok: false }, 'and only one');
});

test.serial("plaintext is limited per client address, on its own count: the HBONE source's 3 do not use its slots", async (t) => {
  const b = mesh.topo.host('b').address;
  const plain = holder('c', undefined, b, 9090);
  for (let i = 0; i < 3; i++) t.like(await plain.open(), { ok: true }, `plaintext connection ${i + 1} of 3`);
  const before = await refusals('plaintext');
  const fourth = await plain.open();
  t.false(fourth.ok);
  t.is(fourth.error, 'ECONNRESET', 'refused with a RST, as the other inbound refusals are');
  t.is(await refusals('plaintext'), before + 1);
  t.is(await openAtB('none'), 3);
  await plain.close(0);
  await eventually(async () => (await openAtB('none')) === 2, 10_000);
  t.like(await plain.open(), { ok: true });
});

test.serial('the same-node shortcut (an enrolled user on b itself) is limited too, as its own source', async (t) => {
  const local = holder('b', LOCAL_UID, ECHO, 9090);
  for (let i = 0; i < 3; i++) t.like(await local.open(), { ok: true }, `local connection ${i + 1} of 3`);
  const before = await refusals('local');
  t.like(await local.open(), { ok: false });
  t.is(await refusals('local'), before + 1);
  t.regex(mesh.logs('b'), /"src":"spiffe:\/\/cluster\.local\/ns\/default\/sa\/local-client".*connection refused: its source holds/);
});

test.serial('a raised limit takes effect live; connections open under the old one stay up', async (t) => {
  const client = holder('a', CLIENT_UID, ECHO, 9090);
  // The first test's holder still holds 3: this source is at the limit.
  t.like(await client.open(), { ok: false });
  await apply(limit(5));
  await eventually(async () => /"maxConnectionsPerSource":\s*5/.test(await mesh.admin('b', '/config_dump')), 20_000);
  t.like(await client.open(), { ok: true });
  t.like(await client.open(), { ok: true });
  t.like(await client.open(), { ok: false }, '3 + 2 = 5');
});
