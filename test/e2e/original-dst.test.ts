// The SO_ORIGINAL_DST addon against a real iptables REDIRECT, inside a
// throwaway namespace: the host's tables and conntrack are never touched.

import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { netnsTest } from '../helpers/netns-test.js';
import { withTopology } from '../helpers/netns.js';
import { mustExec, probeConnect, startProbeServer } from './fixtures/probe.js';

const LISTEN = 15001;

netnsTest('originalDst returns the IPv4 address and port a REDIRECTed connection was going to', async (t) => {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-od-' });
  // '::' is dual-stack: IPv4 arrives as ::ffff:a.b.c.d, which must still be read via SOL_IP.
  await startProbeServer(topo, 'node', '::', LISTEN);

  // No NAT rule yet, so no conntrack in this namespace: the kernel has nothing to say.
  const direct = await probeConnect(topo, 'node', '127.0.0.1', LISTEN);
  t.is(direct.error, 'ENOENT', JSON.stringify(direct));

  await mustExec(topo, 'node', 'iptables', [
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '-d',
    '10.255.0.9',
    '--dport',
    '8080',
    '-j',
    'REDIRECT',
    '--to-ports',
    String(LISTEN),
  ]);
  const captured = await probeConnect(topo, 'node', '10.255.0.9', 8080);
  t.deepEqual(captured.originalDst, { address: '10.255.0.9', port: 8080, family: 4 }, JSON.stringify(captured));
  t.is(captured.local, `::ffff:127.0.0.1:${LISTEN}`);

  // With conntrack running, a direct (un-NATed) connection reports the listener itself:
  // this is what the daemon's "not captured" check has to recognise.
  const directTracked = await probeConnect(topo, 'node', '127.0.0.1', LISTEN);
  t.deepEqual(directTracked.originalDst, { address: '127.0.0.1', port: LISTEN, family: 4 }, JSON.stringify(directTracked));
});

netnsTest('a client port reused towards another VIP is rewritten by netfilter, and the owner lookup still finds the client', async (t) => {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-od-' });
  await startProbeServer(topo, 'node', '::', LISTEN);
  for (const vip of ['10.255.0.9', '10.255.0.10']) {
    await mustExec(topo, 'node', 'iptables', [
      '-t',
      'nat',
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '-d',
      vip,
      '--dport',
      '8080',
      '-j',
      'REDIRECT',
      '--to-ports',
      String(LISTEN),
    ]);
  }
  const user = ['setpriv', '--reuid=4242', '--regid=4242', '--clear-groups'];
  const clientPort = 40123;
  const first = await probeConnect(topo, 'node', '10.255.0.9', 8080, user, 'tcp', clientPort);
  t.like(first, { remotePort: clientPort, owner: 4242 }, JSON.stringify(first));
  // Linux picks source ports per destination, so a client may well use the same port for another VIP. REDIRECT maps
  // both onto client:40123 -> 127.0.0.1:15001, and the first one's conntrack entry lingers (TIME_WAIT): the kernel
  // gives the second connection another source port, which no socket of the client has.
  const second = await probeConnect(topo, 'node', '10.255.0.10', 8080, user, 'tcp', clientPort);
  t.not(second.remotePort, clientPort, `netfilter kept the port: ${JSON.stringify(second)}`);
  t.is(second.owner, 4242, JSON.stringify(second));
});

const ipv6Title = 'originalDst returns the IPv6 address and port a REDIRECTed connection was going to';
async function ipv6Case(t: ExecutionContext): Promise<void> {
  const topo = await withTopology(t, { hosts: ['node'], prefix: 'ambit-od-' });
  const { veth } = topo.host('node');
  // nodad: usable at once rather than after duplicate address detection.
  await mustExec(topo, 'node', 'ip', ['-6', 'addr', 'add', 'fd00:a3b1::1/64', 'dev', veth, 'nodad']);
  await startProbeServer(topo, 'node', '::', LISTEN);
  await mustExec(topo, 'node', 'ip6tables', [
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '-d',
    'fd00:a3b1::9',
    '--dport',
    '8080',
    '-j',
    'REDIRECT',
    '--to-ports',
    String(LISTEN),
  ]);

  const captured = await probeConnect(topo, 'node', 'fd00:a3b1::9', 8080);
  t.deepEqual(captured.originalDst, { address: 'fd00:a3b1::9', port: 8080, family: 6 }, JSON.stringify(captured));
  t.is(captured.local, `::1:${LISTEN}`);
}
if (existsSync('/proc/net/if_inet6')) {
  netnsTest(ipv6Title, ipv6Case);
} else {
  console.warn('  ⚠ skipping the IPv6 SO_ORIGINAL_DST test: this kernel has IPv6 disabled');
  test.skip(`${ipv6Title}: needs IPv6, disabled in this kernel (no /proc/net/if_inet6)`, ipv6Case);
}
