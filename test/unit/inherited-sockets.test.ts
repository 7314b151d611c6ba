/**
 * Socket activation as ambitd reads it: the sd_listen_fds variables parsed,
 * the passed descriptors checked against the settings (port, protocol, count)
 * and handed to listeners by name, or each port bound by ambitd itself.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { daemonListener, daemonListeners } from '../../core/config/daemon-listeners.js';
import { describeFds, InheritedSockets, parseListenFds, type InheritedSocket } from '../../core/net/inherited-sockets.js';
import type { Protocol } from '../../core/net/proc-sockets.js';

const PORTS = { outbound: 15001, inbound: 15008, inboundPlaintext: 15006, dns: 15053, admin: 15000, metrics: 15020 };
const LISTENERS = daemonListeners(PORTS);
const env = (pid: string, fds: string, names?: string) => ({ LISTEN_PID: pid, LISTEN_FDS: fds, ...(names === undefined ? {} : { LISTEN_FDNAMES: names }) });

function recordingLog(): { log: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }), done()) }),
  );
  return { log, lines };
}

let inode = 1000;
const sock = (fd: number, name: string, protocol: Protocol, port: number, address = '0.0.0.0'): InheritedSocket => ({
  fd,
  name,
  socket: { protocol, address, port, inode: inode++ },
});
/** What the units `ambit install` writes pass on a host with IPv6. */
const SYSTEMD = [
  sock(3, 'outbound', 'tcp', 15001),
  sock(4, 'outbound', 'tcp', 15001, '::'),
  sock(5, 'inbound', 'tcp', 15008),
  sock(6, 'dns', 'tcp', 15053, '127.0.0.1'),
  sock(7, 'dns', 'udp', 15053, '127.0.0.1'),
];

test('LISTEN_FDS: descriptors from 3 with their names; unnamed ones are "unknown", as sd_listen_fds_with_names says', (t) => {
  t.deepEqual(parseListenFds(env('42', '3', 'outbound:inbound:dns'), 42), {
    passed: [
      { fd: 3, name: 'outbound' },
      { fd: 4, name: 'inbound' },
      { fd: 5, name: 'dns' },
    ],
  });
  t.deepEqual(parseListenFds(env('42', '2'), 42), {
    passed: [
      { fd: 3, name: 'unknown' },
      { fd: 4, name: 'unknown' },
    ],
  });
  t.deepEqual(parseListenFds(env('42', '0', ''), 42), { passed: [] });
});

test('LISTEN_FDS: nothing passed when the variables are absent or meant for another process (they survive an exec)', (t) => {
  const none = parseListenFds({}, 42);
  t.true('none' in none);
  const other = parseListenFds(env('41', '2', 'a:b'), 42);
  t.deepEqual(other, { none: 'LISTEN_PID=41 is another process (this is 42): its sockets are not ours' });
  t.true('none' in parseListenFds({ LISTEN_PID: '42' }, 42), 'LISTEN_FDS missing');
});

test('LISTEN_FDS: garbled variables are ELISTEN_FDS, saying which and what to do', (t) => {
  for (const [vars, message] of [
    [env('x', '1'), /LISTEN_PID="x" is not a process id/],
    [env('42', '-1'), /LISTEN_FDS="-1" is not a count/],
    [env('42', '1e3'), /LISTEN_FDS="1e3" is not a count/],
    [env('42', '100000'), /LISTEN_FDS=100000 is more descriptors/],
    [env('42', '2', 'outbound'), /LISTEN_FDNAMES names 1 descriptors \("outbound"\) but LISTEN_FDS says 2/],
    [env('42', '2', 'outbound::dns'), /LISTEN_FDNAMES names 3/],
    [env('42', '2', 'outbound:'), /leaves descriptor 4 without a name/],
  ] as const) {
    const err = t.throws(() => parseListenFds(vars, 42), { code: 'ELISTEN_FDS' });
    t.regex(err.message, message);
    t.regex(err.message, /unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES/);
  }
});

test('fromEnvironment takes the variables out of the environment, so waypoints ambitd starts never see them', async (t) => {
  const vars: NodeJS.ProcessEnv = { ...env('1', '1', 'outbound'), PATH: '/bin' };
  const sockets = await InheritedSockets.fromEnvironment(recordingLog().log, vars, 42);
  t.deepEqual(sockets.passed, []);
  t.deepEqual(vars, { PATH: '/bin' });
});

test('verify: the sockets install writes for these ports pass', (t) => {
  t.notThrows(() => new InheritedSockets(SYSTEMD, recordingLog().log).verify(LISTENERS, 'ambitd.yaml'));
});

test('verify: a socket on another port, of the wrong protocol, too many, or not a socket refuses the start (ELISTEN_FD_MISMATCH)', (t) => {
  const cases: [InheritedSocket[], RegExp][] = [
    [[sock(3, 'outbound', 'tcp', 15101)], /fd 3 \(outbound\) is tcp 0\.0\.0\.0:15101, but ambitd\.yaml has ports\.outbound: 15001/],
    [[sock(3, 'dns', 'udp', 5353, '127.0.0.1')], /fd 3 \(dns\) is udp 127\.0\.0\.1:5353, but ambitd\.yaml has ports\.dns: 15053/],
    [[sock(3, 'inbound', 'udp', 15008)], /fd 3 \(inbound\) is udp 0\.0\.0\.0:15008, but inbound takes tcp only/],
    [
      [sock(3, 'inbound', 'tcp', 15008), sock(4, 'inbound', 'tcp', 15008, '::')],
      /fd 3 \(inbound\) is one of 2 tcp sockets named inbound, which takes at most 1/,
    ],
    [[{ fd: 3, name: 'outbound', socket: undefined }], /fd 3 \(outbound\) is not a listening TCP or bound UDP socket/],
  ];
  for (const [passed, message] of cases) {
    const err = t.throws(() => new InheritedSockets(passed, recordingLog().log).verify(LISTENERS, 'ambitd.yaml'), { code: 'ELISTEN_FD_MISMATCH' });
    t.regex(err.message, message);
    t.regex(err.message, /re-run ambit install .*systemctl daemon-reload && systemctl restart ambitd-\w+\.socket ambitd$/);
  }
});

test('verify: a name no listener takes is a warning, not a refusal', (t) => {
  const { log, lines } = recordingLog();
  t.notThrows(() => new InheritedSockets([...SYSTEMD, sock(8, 'metrics', 'tcp', 15020)], log).verify(LISTENERS, 'ambitd.yaml'));
  const warning = lines.find((l) => l.level === 40);
  t.regex(
    warning?.msg ?? '',
    /systemd passed a socket named "metrics", which no ambitd listener takes \(outbound, inbound, inbound-plaintext, dns\); it stays open, unused/,
  );
});

test('targets: by name and protocol from systemd, said in the log', (t) => {
  const { log, lines } = recordingLog();
  const sockets = new InheritedSockets(SYSTEMD, log);
  t.deepEqual(sockets.targets(daemonListener(PORTS, 'outbound'), 'tcp'), [
    { kind: 'inherited', fd: 3, name: 'outbound', port: 15001, address: '0.0.0.0' },
    { kind: 'inherited', fd: 4, name: 'outbound', port: 15001, address: '::' },
  ]);
  t.deepEqual(sockets.targets(daemonListener(PORTS, 'dns'), 'udp'), [{ kind: 'inherited', fd: 7, name: 'dns', port: 15053, address: '127.0.0.1' }]);
  t.deepEqual(sockets.targets(daemonListener(PORTS, 'dns'), 'tcp'), [{ kind: 'inherited', fd: 6, name: 'dns', port: 15053, address: '127.0.0.1' }]);
  t.deepEqual(
    lines.map((l) => l.msg),
    [
      'outbound (tcp): adopting fd 3 tcp 0.0.0.0:15001, fd 4 tcp [::]:15001 from systemd',
      'dns (udp): adopting fd 7 udp 127.0.0.1:15053 from systemd',
      'dns (tcp): adopting fd 6 tcp 127.0.0.1:15053 from systemd',
    ],
  );
});

test('targets: without systemd every listener binds its addresses itself; with systemd, one it did not pass is a warning', (t) => {
  const alone = recordingLog();
  t.deepEqual(new InheritedSockets([], alone.log).targets(daemonListener(PORTS, 'outbound'), 'tcp'), [
    { kind: 'bind', host: '0.0.0.0', port: 15001 },
    { kind: 'bind', host: '::', port: 15001 },
  ]);
  t.is(alone.lines[0]?.level, 30);
  t.is(alone.lines[0]?.msg, 'outbound (tcp): binding 0.0.0.0, [::] port 15001 itself (not started by systemd socket activation)');

  const partly = recordingLog();
  t.deepEqual(new InheritedSockets(SYSTEMD.slice(0, 3), partly.log).targets(daemonListener(PORTS, 'dns'), 'udp'), [
    { kind: 'bind', host: '127.0.0.1', port: 15053 },
  ]);
  t.is(partly.lines[0]?.level, 40);
  t.regex(partly.lines[0]?.msg ?? '', /none named dns for udp, so nothing holds that port while ambitd is down/);
});

test('describeFds: what a descriptor is, read from /proc (this process holds a real TCP listener and UDP socket)', async (t) => {
  const tcp = createServer().listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const udp = createSocket('udp4').bind(0, '127.0.0.1');
  await once(udp, 'listening');
  t.teardown(() => {
    tcp.close();
    udp.close();
  });
  // Every descriptor of this process: the two sockets are among them, stdin (0) is not a socket of ours.
  const fds = readdirSync('/proc/self/fd').map(Number);
  const described = await describeFds(fds.map((fd) => ({ fd, name: `fd${fd}` })));
  t.truthy(described.find((d) => d.socket?.protocol === 'tcp' && d.socket.port === (tcp.address() as AddressInfo).port && d.socket.address === '127.0.0.1'));
  t.truthy(described.find((d) => d.socket?.protocol === 'udp' && d.socket.port === udp.address().port));
  t.is(described.find((d) => d.fd === 0)?.socket, undefined);
});
