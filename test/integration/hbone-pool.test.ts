import type { ServerHttp2Session } from 'node:http2';
import test from 'ava';
import { CLIENT_ID, echo, readAll, startMesh, type Mesh, until, upstream } from '../helpers/hbone-harness.js';

function serverSessions(mesh: Mesh): ServerHttp2Session[] {
  const sessions: ServerHttp2Session[] = [];
  mesh.server.server.on('session', (s) => sessions.push(s));
  return sessions;
}

test('a full session makes the pool open a second one (client cap)', async (t) => {
  const mesh = await startMesh(t, { client: { maxStreamsPerSession: 2 } });
  const up = await upstream(t, mesh, echo);
  const streams = await Promise.all(Array.from({ length: 5 }, () => mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID })));
  t.is(mesh.client.stats().sessionsTotal, 3);
  t.is(mesh.client.stats().streamsActive, 5);
  for (const s of streams) s.end('x');
  t.deepEqual(await Promise.all(streams.map(async (s) => (await readAll(s)).toString())), ['x', 'x', 'x', 'x', 'x']);
  // Freed slots are reused: no fourth session.
  const again = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  again.end();
  await readAll(again);
  t.is(mesh.client.stats().sessionsTotal, 3);
});

test("the server's SETTINGS_MAX_CONCURRENT_STREAMS is respected", async (t) => {
  const mesh = await startMesh(t, { server: { tuning: { maxConcurrentStreams: 3 } } });
  const up = await upstream(t, mesh, echo);
  const open = [];
  for (let i = 0; i < 4; i++) open.push(await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }));
  t.is(mesh.client.stats().sessionsTotal, 2);
  for (const s of open) s.end();
  await Promise.all(open.map(readAll));
});

test('GOAWAY: open streams finish on the old session, new streams go to a new one', async (t) => {
  const mesh = await startMesh(t);
  const sessions = serverSessions(mesh);
  const up = await upstream(t, mesh, echo);
  const old = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  sessions[0]!.close(); // graceful: GOAWAY(NO_ERROR), existing streams continue
  await until(() => mesh.client.stats().sessionsActive === 1 && sessions[0]!.closed);
  await new Promise((r) => setTimeout(r, 50));
  const fresh = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  t.is(mesh.client.stats().sessionsTotal, 2);
  fresh.end('new');
  old.end('old');
  t.is((await readAll(fresh)).toString(), 'new');
  t.is((await readAll(old)).toString(), 'old');
});

test('a session killed by the peer is evicted and the next connect re-dials', async (t) => {
  const mesh = await startMesh(t);
  const sessions = serverSessions(mesh);
  const up = await upstream(t, mesh, echo);
  const first = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  first.on('error', () => undefined);
  sessions[0]!.destroy();
  await until(() => mesh.client.stats().sessionsActive === 0);
  const second = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  second.end('alive');
  t.is((await readAll(second)).toString(), 'alive');
  t.is(mesh.client.stats().sessionsTotal, 2);
});

test('idle sessions are closed after idleTimeoutMs', async (t) => {
  const mesh = await startMesh(t, { client: { idleTimeoutMs: 100 } });
  const up = await upstream(t, mesh, echo);
  const s = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  s.end('x');
  await readAll(s);
  t.is(mesh.client.stats().sessionsActive, 1);
  await until(() => mesh.client.stats().sessionsActive === 0);
  await until(() => mesh.server.stats().sessionsActive === 0);
  t.pass();
});

test('a peer that does not answer is EHBONE_PEER_UNREACHABLE, then the pool recovers', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const err = await t.throwsAsync(mesh.client.connect({ peer: { host: '127.0.0.1', port: 1 }, authority: up.authority, source: CLIENT_ID }));
  t.is((err as { code?: string }).code, 'EHBONE_PEER_UNREACHABLE');
  t.is(mesh.client.stats().sessionsActive, 0);
});
