/** ambit doctor's readings of the host: /proc socket tables and holders, iptables version, kernel support, check.sh output. */
import test from 'ava';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { checkScriptProblems, describeCaptureArgs, shellCommand } from '../../cli/doctor/checks/capture-rules.js';
import { parseIptablesVersion } from '../../cli/doctor/checks/iptables.js';
import { judgeKernelSupport, rulesProveSupport, type KernelEvidence } from '../../cli/doctor/checks/kernel-capture.js';
import { ambitPorts, describeHolder, isAmbitd, isSystemd, judgeListeners } from '../../cli/doctor/checks/listeners.js';
import { parseKernelConfig } from '../../cli/doctor/kernel-config.js';
import { holdersOf, listenersOn, parseSocketTable } from '../../core/net/proc-sockets.js';
import { captureArgs } from '../../daemon/capture.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3A98 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:3A99 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 100 0 0 10 0
   2: 0100007F:3A98 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 9999 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:3A99 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
`;

test('socket tables: listening TCP sockets with decoded address, port and inode; connections are left out', (t) => {
  t.deepEqual(parseSocketTable(TCP, 'tcp'), [
    { protocol: 'tcp', address: '127.0.0.1', port: 15000, inode: 4242 },
    { protocol: 'tcp', address: '0.0.0.0', port: 15001, inode: 4243 },
  ]);
  t.deepEqual(parseSocketTable(TCP6, 'tcp'), [{ protocol: 'tcp', address: '::1', port: 15001, inode: 5151 }]);
  // UDP binds show as state 07; a LISTEN-looking row in a udp table is not one.
  t.deepEqual(
    parseSocketTable(TCP.replace(/ 0A /g, ' 07 '), 'udp').map((s) => s.inode),
    [4242, 4243],
  );
  t.deepEqual(parseSocketTable(TCP, 'udp'), []);
});

test('this process, listening on TCP and UDP, is found as the holder of its own sockets', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const udp = createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  t.teardown(() => {
    server.close();
    udp.close();
  });
  const tcpPort = (server.address() as AddressInfo).port;
  const udpPort = udp.address().port;
  const sockets = await listenersOn([
    { protocol: 'tcp', port: tcpPort },
    { protocol: 'udp', port: udpPort },
  ]);
  t.deepEqual(sockets.map((s) => `${s.address}:${s.port}/${s.protocol}`).sort(), [`127.0.0.1:${tcpPort}/tcp`, `127.0.0.1:${udpPort}/udp`].sort());
  const holders = await holdersOf(sockets.map((s) => s.inode));
  for (const s of sockets)
    t.deepEqual(
      holders.get(s.inode)?.map((h) => h.pid),
      [process.pid],
    );
  t.regex(holders.get(sockets[0]!.inode)![0]!.command, /node/);
});

const PORTS = ambitPorts({ outbound: 15001, inbound: 15008, inboundPlaintext: 15006, dns: 15053, admin: 15000, metrics: 15020 });
const sock = (protocol: 'tcp' | 'udp', port: number, inode: number) => ({ protocol, address: '127.0.0.1', port, inode });
const AMBITD = { pid: 100, command: '/usr/bin/node /opt/ambit/bin/ambitd.js --config /etc/ambit/ambitd.yaml' };
const ALL = PORTS.map((p, i) => sock(p.protocol, p.port, i + 1));
const heldBy = (holder: typeof AMBITD, sockets = ALL) => new Map(sockets.map((s) => [s.inode, [holder]]));

const SYSTEMD = { pid: 1, command: '/sbin/init' };
/** The traffic ports, as the socket units `ambit install` writes hold them. */
const TRAFFIC = ALL.filter((s) => s.port !== 15000 && s.port !== 15020);

test('listeners: all held by ambitd is OK; all free while it is down is a WARN: anyone may bind the ports captured traffic goes to', (t) => {
  const held = judgeListeners(PORTS, ALL, heldBy(AMBITD), 'x.yaml');
  t.is(held.status, 'OK');
  t.is(held.detail, 'ambitd (pid 100) holds 15001/tcp, 15008/tcp, 15006/tcp, 15053/udp, 15053/tcp, 15000/tcp, 15020/tcp');
  const free = judgeListeners(PORTS, [], new Map(), 'x.yaml');
  t.is(free.status, 'WARN');
  t.is(
    free.detail,
    'ambitd is not running and its ports are free: 15001/tcp, 15008/tcp, 15006/tcp, 15053/udp, 15053/tcp, 15000/tcp, 15020/tcp; no socket unit holds 15001/tcp, 15008/tcp, 15006/tcp, 15053/udp, 15053/tcp, so any local user can bind them and receive what the capture rules redirect there',
  );
  t.regex(free.fix ?? '', /ambit install.*ambitd-\*\.socket/);
});

test('listeners: ports systemd holds (socket activation) are said, running or not, and systemd is never an intruder', (t) => {
  const both = new Map(ALL.map((s) => [s.inode, TRAFFIC.includes(s) ? [SYSTEMD, AMBITD] : [AMBITD]]));
  const running = judgeListeners(PORTS, ALL, both, 'x.yaml');
  t.is(running.status, 'OK');
  t.is(
    running.detail,
    'ambitd (pid 100) holds 15001/tcp, 15008/tcp, 15006/tcp, 15053/udp, 15053/tcp, 15000/tcp, 15020/tcp; systemd holds 15001/tcp, 15008/tcp, 15006/tcp, 15053/udp, 15053/tcp for it (socket activation), so they stay taken while ambitd is down',
  );
  const down = judgeListeners(PORTS, TRAFFIC, heldBy(SYSTEMD, TRAFFIC), 'x.yaml');
  t.is(down.status, 'OK');
  t.regex(
    down.detail,
    /^ambitd is not running; systemd holds 15001\/tcp, 15008\/tcp, 15006\/tcp, 15053\/udp, 15053\/tcp for it \(socket activation\): nobody else can bind them/,
  );
  // Only DNS held (an older install, say): the outbound and inbound ports are open to anyone.
  const dns = TRAFFIC.filter((s) => s.port === 15053);
  const partly = judgeListeners(PORTS, dns, heldBy(SYSTEMD, dns), 'x.yaml');
  t.is(partly.status, 'WARN');
  t.regex(partly.detail, /no socket unit holds 15001\/tcp, 15008\/tcp, 15006\/tcp, so any local user/);
  t.false(isSystemd({ pid: 4242, command: '/lib/systemd/systemd --user' }), 'only pid 1');
  t.true(isSystemd({ pid: 1, command: '/lib/systemd/systemd --system --deserialize 31' }));
});

test('listeners: a foreign process on a port FAILs naming it, with the setting to change', (t) => {
  const intruder = { pid: 4242, command: "node -e require('dgram').createSocket('udp4').bind(15053, '127.0.0.1')" };
  const r = judgeListeners(PORTS, [sock('udp', 15053, 77)], new Map([[77, [intruder]]]), '/etc/ambit/ambitd.yaml');
  t.is(r.status, 'FAIL');
  t.regex(r.detail, /^15053\/udp is held by node \(pid 4242: node -e require\('dgram'\)/);
  t.regex(r.fix ?? '', /kill 4242\).*ports\.dns in \/etc\/ambit\/ambitd\.yaml/);
});

test('listeners: ambitd missing some ports, and sockets nobody visible holds, FAIL', (t) => {
  const partial = ALL.filter((s) => s.port !== 15053);
  const half = judgeListeners(PORTS, partial, heldBy(AMBITD, partial), 'x.yaml');
  t.is(half.status, 'FAIL');
  t.regex(half.detail, /but not 15053\/udp, 15053\/tcp$/);
  const hidden = judgeListeners(PORTS, [sock('tcp', 15008, 9)], new Map(), 'x.yaml');
  t.is(hidden.status, 'FAIL');
  t.regex(hidden.fix ?? '', /ss -lntup 'sport = :15008'/);
});

test('listeners: ambitd is recognised by its command line, whichever way it was started', (t) => {
  t.true(isAmbitd(AMBITD));
  t.true(isAmbitd({ pid: 1, command: 'ambitd --config /etc/ambit/ambitd.yaml' }));
  t.true(isAmbitd({ pid: 1, command: 'node /src/ambit/dist/daemon/main.js' }));
  t.false(isAmbitd({ pid: 1, command: 'node -e ambitd-lookalike' }));
  t.is(describeHolder({ pid: 7, command: '' }), 'unknown (pid 7: command line not readable)');
  t.regex(describeHolder({ pid: 7, command: `/usr/sbin/dnsmasq ${'x'.repeat(100)}` }), /^dnsmasq \(pid 7: \/usr\/sbin\/dnsmasq x+…\)$/);
});

test('iptables --version: version and backend; pre-1.8 versions are legacy', (t) => {
  t.deepEqual(parseIptablesVersion('iptables v1.8.9 (nf_tables)\n'), { version: '1.8.9', backend: 'nf_tables' });
  t.deepEqual(parseIptablesVersion('iptables v1.8.7 (legacy)\n'), { version: '1.8.7', backend: 'legacy' });
  t.deepEqual(parseIptablesVersion('iptables v1.6.1\n'), { version: '1.6.1', backend: 'legacy' });
  t.is(parseIptablesVersion('command not found'), undefined);
});

const NO_LISTS = { names: new Set<string>(), matches: new Set<string>(), targets: new Set<string>() };
const evidence = (over: Partial<KernelEvidence>): KernelEvidence => ({ saved: '', config: undefined, registered: NO_LISTS, ...over });
const kconfig = (text: string) => ({ source: '/proc/config.gz', enabled: parseKernelConfig(text) });

test('kernel support: installed rules prove it; otherwise the kernel config decides, per backend', (t) => {
  const saved = '*nat\n:AMBIT_OUTPUT - [0:0]\n-A AMBIT_OUTPUT -d 240.240.0.0/16 -p tcp -m owner --uid-owner 2001 -j REDIRECT --to-ports 15001\nCOMMIT\n';
  t.true(rulesProveSupport(saved));
  t.false(rulesProveSupport(saved.replace('*nat', '*filter')));
  t.is(judgeKernelSupport('nf_tables', evidence({ saved })).status, 'OK');

  const nft = kconfig('CONFIG_NF_TABLES=y\nCONFIG_NF_TABLES_IPV4=y\nCONFIG_NFT_NAT=m\nCONFIG_NFT_REDIR=m\n# CONFIG_IP_NF_NAT is not set\n');
  t.is(judgeKernelSupport('nf_tables', evidence({ config: nft })).status, 'OK');
  const legacy = judgeKernelSupport('legacy', evidence({ config: nft }));
  t.is(legacy.status, 'FAIL');
  t.regex(legacy.detail, /lacks nat table \(CONFIG_IP_NF_IPTABLES \+ CONFIG_IP_NF_NAT\), owner match \(CONFIG_NETFILTER_XT_MATCH_OWNER\), REDIRECT target/);
  t.regex(legacy.fix ?? '', /iptables-nft/);
  // Older kernels name the nft nat chain per family.
  t.is(
    judgeKernelSupport(
      'nf_tables',
      evidence({ config: kconfig('CONFIG_NF_TABLES=y\nCONFIG_NF_TABLES_IPV4=y\nCONFIG_NFT_CHAIN_NAT_IPV4=m\nCONFIG_NFT_REDIR_IPV4=m\n') }),
    ).status,
    'OK',
  );
});

test('kernel support without a kernel config: legacy reads /proc/net lists, nf_tables cannot tell', (t) => {
  const loaded = { names: new Set(['filter', 'nat']), matches: new Set(['owner', 'tcp']), targets: new Set(['REDIRECT']) };
  t.is(judgeKernelSupport('legacy', evidence({ registered: loaded })).status, 'OK');
  const partly = judgeKernelSupport('legacy', evidence({ registered: { ...loaded, matches: new Set(['tcp']) } }));
  t.is(partly.status, 'WARN');
  t.regex(partly.detail, /owner match not loaded/);
  // iptables-nft does not use the xt owner/REDIRECT modules, so their lists prove nothing there.
  t.is(judgeKernelSupport('nf_tables', evidence({ registered: loaded })).status, 'WARN');
});

test('capture: apply.sh options summarised, check.sh problems on one line, commands pasteable', (t) => {
  const args = captureArgs({
    uids: [2001, 2002],
    meshCidrs: ['240.240.0.0/16', '10.0.0.2/32'],
    strictPorts: [9080],
    inboundEndpoints: ['10.0.0.2:9080'],
    inboundPort: 15006,
    dns: true,
    exemptUid: 0,
    outboundPort: 15001,
    dnsPort: 15053,
  });
  t.is(describeCaptureArgs(args), 'uids 2001,2002; mesh 240.240.0.0/16,10.0.0.2/32; DNS to :15053; STRICT 9080; plaintext to 10.0.0.2:9080 policed at :15006');
  const none = captureArgs({
    uids: [],
    meshCidrs: [],
    strictPorts: [],
    inboundEndpoints: [],
    inboundPort: 15006,
    dns: false,
    exemptUid: 0,
    outboundPort: 15001,
    dnsPort: 15053,
  });
  t.is(describeCaptureArgs(none), 'uids none; mesh default range');
  t.is(shellCommand(['bash', '/x/apply.sh', ...none]), "bash /x/apply.sh --uids '' --exempt-uid 0 --outbound-port 15001 --dns-port 15053 --no-dns");
  t.is(shellCommand(["it's"]), "'it'\\''s'");
  t.is(
    checkScriptProblems('ambit-iptables: iptables: chain nat/AMBIT_OUTPUT is missing\nambit-iptables: iptables: no jump from nat/OUTPUT to AMBIT_OUTPUT\n'),
    'iptables: chain nat/AMBIT_OUTPUT is missing; iptables: no jump from nat/OUTPUT to AMBIT_OUTPUT',
  );
});
