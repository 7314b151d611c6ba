/**
 * ambitd socket-activated, as the units `ambit install` writes run it, on a
 * netns host: started by systemd-socket-activate (systemd's own tool for
 * this) with listen sockets for outbound, inbound HBONE and DNS over UDP and
 * TCP, named as FileDescriptorName= names them. It adopts each one by name and
 * binds none of them itself; a DNS query sent while no ambitd ran waits in the
 * socket and is answered once it is up; and captured traffic flows through the
 * adopted sockets both ways: an enrolled client on a (a's DNS and outbound)
 * to a service on b, and one on b to a service on a (a's inbound 15008).
 *
 * systemd-socket-activate execs the daemon, so it cannot hold the sockets
 * across a restart as systemd does; that part is systemd's (the units are
 * checked by systemd-analyze in test/integration/cli-install.test.ts).
 * -d makes every socket of one invocation a datagram socket, so the UDP one
 * comes from an outer invocation, which passes it on (fd 3) to the inner.
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { decode } from '../helpers/dns-harness.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { requireNetns } from '../helpers/netns.js';

const A_UID = 2101;
const B_UID = 2102;
const WEB = 'web.default.svc.cluster.local';
const APP = 'app.default.svc.cluster.local';
const HARNESS = new URL('../helpers/dns-harness.js', import.meta.url).href;
/** systemd-socket-activate passes only TERM, PATH, USER and HOME on, and what -E names. */
const KEEP_ENV = ['AMBIT_LOG_LEVEL', 'AMBIT_REDIS_URL'].flatMap((v) => ['-E', v]);
const WRAPPER = [
  ...['systemd-socket-activate', ...KEEP_ENV, '--datagram', '--listen=127.0.0.1:15053'],
  ...[
    'systemd-socket-activate',
    ...KEEP_ENV,
    '--listen=0.0.0.0:15001',
    '--listen=0.0.0.0:15008',
    '--listen=127.0.0.1:15053',
    '--listen=0.0.0.0:15006',
    '--fdname=dns:outbound:inbound:dns:inbound-plaintext',
  ],
];

let mesh: Mesh;
/** The reply to the query sent before a's ambitd existed, and what a had logged by then. */
let early: { reply: string; logsAtSend: string; code: number | null; stderr: string };

/** One DNS query from inside `host` to its ambitd, over UDP or TCP; prints the reply as hex. */
const dnsQuery = (host: string, name: string, transport: 'udp' | 'tcp', timeoutMs = 3000) =>
  mesh.topo.exec(
    host,
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { query, udpExchange, tcpExchange } from ${JSON.stringify(HARNESS)};
const q = query(${JSON.stringify(name)});
const r = ${transport === 'udp' ? `await udpExchange(15053, q, ${timeoutMs})` : '(await tcpExchange(15053, [q]))[0]'};
process.stdout.write(r.toString('hex'));`,
    ],
    { timeoutMs: timeoutMs + 10_000 },
  );
const answerOf = (hex: string): string[] => decode(Buffer.from(hex, 'hex')).answers.map((a) => String(a.data));
const vipOf = async (host: string, name: string): Promise<string> => {
  const dump = JSON.parse(await mesh.admin(host, '/config_dump')) as { services?: { name: string; vip: string }[] };
  return dump.services?.find((s) => s.name === name)?.vip ?? '';
};

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b']);
  // b first: it runs the signer; its service is in the store before a starts, so a's first snapshot has it.
  await mesh.startDaemon('b');
  await mesh.serveText('b', 9090, 'web on b');
  await mesh.serveText('a', 9080, 'app on a');
  await mesh.enroll('b', ['web', '--port', '9090', '--user', String(B_UID)]);

  const starting = mesh.startDaemon('a', '', { wrapper: WRAPPER });
  // The outer systemd-socket-activate holds the UDP socket; nothing runs ambitd until a datagram arrives.
  await eventually(async () => /Listening on 127\.0\.0\.1:15053 as 3\./.test(mesh.logs('a')), 30_000);
  const logsAtSend = mesh.logs('a');
  const reply = dnsQuery('a', WEB, 'udp', 60_000);
  await starting;
  const r = await reply;
  early = { reply: r.stdout, logsAtSend, code: r.code, stderr: r.stderr };
  // Only now: a node is enrolled on once it has joined.
  await mesh.enroll('a', ['app', '--port', '9080', '--user', String(A_UID)]);
});

test.after.always(async () => {
  await mesh?.destroy();
});

test.serial('ambitd adopts every socket by its name and binds none of those ports itself', async (t) => {
  const logs = mesh.logs('a');
  for (const line of [
    'inbound (tcp): adopting fd 5 tcp 0.0.0.0:15008 from systemd',
    'outbound (tcp): adopting fd 4 tcp 0.0.0.0:15001 from systemd',
    'dns (udp): adopting fd 3 udp 127.0.0.1:15053 from systemd',
    'dns (tcp): adopting fd 6 tcp 127.0.0.1:15053 from systemd',
    'inbound-plaintext (tcp): adopting fd 7 tcp 0.0.0.0:15006 from systemd',
  ])
    t.true(logs.includes(`"msg":"${line}"`), `a's log lacks: ${line}`);
  t.false(/binding .* itself/.test(logs), 'no listener fell back to binding');
  // Without systemd ambitd binds [::]:15001 too; given outbound sockets, it listens on those alone.
  const pid = mesh.daemons.get('a')!.pid!;
  const ss = await mesh.topo.exec('a', 'ss', ['-Hlntup']);
  // Each traffic port on the very descriptor systemd-socket-activate passed; admin and metrics bound by ambitd.
  const mine = ss.stdout
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => {
      const f = l.split(/\s+/);
      const fd = Number(/fd=(\d+)/.exec(l)?.[1]);
      return `${f[0]} ${f[4]}${fd <= 7 ? ` fd ${fd}` : ''}`;
    })
    .sort();
  t.deepEqual(
    mine,
    [
      'tcp 0.0.0.0:15001 fd 4',
      'tcp 0.0.0.0:15006 fd 7',
      'tcp 0.0.0.0:15008 fd 5',
      'tcp 0.0.0.0:15020',
      'tcp 127.0.0.1:15000',
      'tcp 127.0.0.1:15053 fd 6',
      'udp 127.0.0.1:15053 fd 3',
    ],
    ss.stdout,
  );
});

test.serial('a DNS query sent while no ambitd ran waited in the socket and was answered by it; TCP DNS answers too', async (t) => {
  t.false(early.logsAtSend.includes('"msg":"ambitd ready"'), 'the query went out before ambitd was up');
  t.false(/"component":"ambitd"/.test(early.logsAtSend), 'nor had ambitd logged anything');
  t.is(early.code, 0, early.stderr);
  const vip = await vipOf('a', WEB);
  t.regex(vip, /^240\.240\./);
  t.deepEqual(answerOf(early.reply), [vip]);
  const tcp = await dnsQuery('a', WEB, 'tcp');
  t.is(tcp.code, 0, tcp.stderr);
  t.deepEqual(answerOf(tcp.stdout), [vip]);
});

test.serial('captured traffic flows through the adopted sockets: a to b (DNS and outbound on a), b to a (inbound HBONE on a)', async (t) => {
  const out = await mesh.asUser('a', A_UID, 'curl', ['-sS', '--max-time', '5', `http://${WEB}:9090/`]);
  t.is(out.stdout, 'web on b', out.stderr);
  await eventually(async () => (await mesh.asUser('b', B_UID, 'curl', ['-sS', '--max-time', '5', `http://${APP}:9080/`])).stdout === 'app on a', 20_000);
  const into = await mesh.asUser('b', B_UID, 'curl', ['-sS', '--max-time', '5', `http://${APP}:9080/`]);
  t.is(into.stdout, 'app on a', into.stderr);
  // Both went over the mesh, not around it: a's inbound counted the tunnel, a's outbound the connection.
  const metrics = await mesh.admin('a', '/metrics', 15020);
  t.regex(metrics, /istio_tcp_connections_opened_total\{[^}]*reporter="destination"[^}]*\} [1-9]/);
  t.regex(metrics, /istio_tcp_connections_opened_total\{[^}]*reporter="source"[^}]*\} [1-9]/);
});
