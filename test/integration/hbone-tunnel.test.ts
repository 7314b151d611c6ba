import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { CLIENT_ID, echo, readAll, SERVER_ID, startMesh, upstream } from '../helpers/hbone-harness.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('10 MB through a CONNECT stream arrive intact', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  const payload = randomBytes(10 * 1024 * 1024);
  const received = readAll(stream);
  stream.end(payload);
  const back = await received;
  t.is(back.length, payload.length);
  t.is(sha256(back), sha256(payload));
  const stats = mesh.client.stats();
  t.true(stats.bytesSent > payload.length);
  t.true(stats.bytesReceived > payload.length);
});

test('client half-close reaches the upstream as FIN and the reply still flows back', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, (socket) => {
    let n = 0;
    socket.on('data', (c: Buffer) => (n += c.length));
    socket.on('end', () => socket.end(`got ${n} bytes after your FIN`));
  });
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  stream.end(Buffer.alloc(12345, 1));
  t.is((await readAll(stream)).toString(), 'got 12345 bytes after your FIN');
});

test('upstream half-close reaches the client as END_STREAM and the client can still send', async (t) => {
  const mesh = await startMesh(t);
  let late: Promise<string> | undefined;
  const up = await upstream(t, mesh, (socket) => {
    socket.end('bye\n');
    late = readAll(socket).then((b) => b.toString());
  });
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  t.is((await readAll(stream)).toString(), 'bye\n');
  stream.end('still talking');
  t.is(await late, 'still talking');
});

test('100 concurrent streams share one pooled session', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
      const reply = readAll(stream);
      stream.end(`stream ${i}`);
      return (await reply).toString();
    }),
  );
  t.deepEqual(
    results,
    Array.from({ length: 100 }, (_, i) => `stream ${i}`),
  );
  const stats = mesh.client.stats();
  t.is(stats.sessionsTotal, 1);
  t.is(stats.streamsTotal, 100);
  t.is(mesh.server.stats().sessionsTotal, 1);
});

test('the server sees the client SPIFFE ID and the client sees the server one', async (t) => {
  const seen: string[] = [];
  const mesh = await startMesh(t, {
    server: {
      authorize: ({ peerIdentity }) => {
        seen.push(peerIdentity);
        return { allow: true };
      },
    },
  });
  const up = await upstream(t, mesh, echo);
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID, expectedServerIdentity: SERVER_ID });
  stream.end('x');
  await readAll(stream);
  t.deepEqual(seen, [CLIENT_ID]);
  const peers = mesh.server.stats().peers;
  t.deepEqual(peers.get(CLIENT_ID), { streams: 1, bytesIn: 1, bytesOut: 1 });
});

test('different source identities get different sessions', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const seen = new Set<string>();
  mesh.server.server.on('session', () => undefined);
  for (const sa of ['a', 'b', 'a']) {
    const source = `spiffe://cluster.local/ns/default/sa/${sa}`;
    const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source });
    stream.end(sa);
    seen.add((await readAll(stream)).toString());
  }
  t.is(mesh.client.stats().sessionsTotal, 2);
  t.deepEqual([...mesh.server.stats().peers.keys()].sort(), ['spiffe://cluster.local/ns/default/sa/a', 'spiffe://cluster.local/ns/default/sa/b']);
});
