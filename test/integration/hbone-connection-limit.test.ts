/**
 * The HBONE server's side of ConnectionLimit: a limited refusal is 503 with
 * EHBONE_CONNECTION_LIMIT on that one stream (the client names the code), and
 * the slot a dial decision holds is given back exactly once whichever way the
 * stream ends (closed by the client, upstream refused, peer gone), so a
 * limit never leaks slots.
 */
import test from 'ava';
import { HboneError } from '../../core/hbone/index.js';
import { ConnectionLimiter } from '../../daemon/connection-limiter.js';
import { CLIENT_ID, closedPort, echo, readAll, startMesh, upstream } from '../helpers/hbone-harness.js';
import { eventually } from '../helpers/eventually.js';

/** A server that admits `limit` streams per peer identity, counting releases. */
async function limitedMesh(t: import('ava').ExecutionContext, limit: number) {
  const limiter = new ConnectionLimiter();
  const released: string[] = [];
  const dead = await closedPort();
  const mesh = await startMesh(t, {
    server: {
      resolveUpstream: ({ destination, peerIdentity }) => {
        const lease = limiter.acquire(`${destination.host}:${destination.port}`, peerIdentity, limit);
        if (!lease) return { refuse: `${peerIdentity} holds ${limit}`, limited: true };
        return {
          host: destination.host,
          port: destination.port,
          onClose: () => {
            released.push(`${destination.port}`);
            lease();
          },
        };
      },
    },
  });
  return { mesh, limiter, released, dead };
}

test('beyond the limit: 503 EHBONE_CONNECTION_LIMIT on that stream; the session and its open streams go on', async (t) => {
  const { mesh, limiter } = await limitedMesh(t, 2);
  const up = await upstream(t, mesh, echo);
  const open = [
    await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }),
    await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }),
  ];
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_CONNECTION_LIMIT');
  t.is(err?.context.status, 503);
  t.is(mesh.server.stats().rejections.EHBONE_CONNECTION_LIMIT, 1);
  open[0]!.end('still up');
  t.is((await readAll(open[0]!)).toString(), 'still up');
  await eventually(() => Promise.resolve(limiter.held(up.authority, CLIENT_ID) === 1), 5000);
  const again = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  again.end('a freed slot');
  t.is((await readAll(again)).toString(), 'a freed slot');
  open[1]!.end();
  await readAll(open[1]!);
  await eventually(() => Promise.resolve(limiter.pairs === 0), 5000);
  t.is(mesh.client.stats().sessionsTotal, 1);
});

test('a slot is given back once when the upstream refuses, and once when the client resets its stream', async (t) => {
  const { mesh, limiter, released, dead } = await limitedMesh(t, 1);
  mesh.allowed.add(dead);
  for (let i = 0; i < 3; i++) {
    const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: `127.0.0.1:${dead}`, source: CLIENT_ID }), { instanceOf: HboneError });
    t.is(err?.code, 'EHBONE_UPSTREAM_UNAVAILABLE', 'each failed dial freed the one slot for the next');
  }
  await eventually(() => Promise.resolve(released.length === 3), 5000);
  t.is(limiter.pairs, 0);
  const up = await upstream(t, mesh, echo);
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  stream.destroy();
  await eventually(() => Promise.resolve(limiter.pairs === 0), 5000);
  t.is(released.filter((p) => p === String(up.port)).length, 1);
});
