import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import test from 'ava';
import { capturedSocketOwnerUid, socketOwnerUid } from '../../daemon/socket-owner.js';

/** A loopback connection made by this process: the client end is ours, so its owner is our uid. */
async function loopbackPair(): Promise<{ client: net.Socket; accepted: net.Socket; server: net.Server }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  return { client, accepted, server };
}

test('the sock_diag lookup and /proc/net/tcp agree on the owner of a local client socket', async (t) => {
  const { client, accepted, server } = await loopbackPair();
  try {
    const peer = { address: accepted.remoteAddress!, port: accepted.remotePort! };
    const fast = await capturedSocketOwnerUid(
      { client: peer, local: { address: accepted.localAddress!, port: accepted.localPort! } },
      { address: accepted.localAddress!, port: accepted.localPort!, family: 4 },
    );
    t.is(fast, process.getuid!());
    t.is(await socketOwnerUid(peer.address, peer.port), fast);
  } finally {
    client.destroy();
    server.close();
  }
});

test('a socket that is not on this host is a typed error, not a wrong uid', async (t) => {
  const { client, accepted, server } = await loopbackPair();
  try {
    // Right client port, wrong destination: no such 4-tuple.
    const conn = {
      client: { address: accepted.remoteAddress!, port: accepted.remotePort! },
      local: { address: accepted.localAddress!, port: accepted.localPort! },
    };
    const error = await t.throwsAsync(capturedSocketOwnerUid(conn, { address: '127.0.0.1', port: 9, family: 4 }));
    t.is((error as { code?: string }).code, 'ESOCKET_OWNER_UNKNOWN');
  } finally {
    client.destroy();
    server.close();
  }
});
