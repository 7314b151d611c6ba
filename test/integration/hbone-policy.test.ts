import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import test from 'ava';
import { HboneError, resetStream } from '../../core/hbone/index.js';
import { CLIENT_ID, closedPort, echo, readAll, startMesh, upstream, type Mesh } from '../helpers/hbone-harness.js';

/** Opens a raw HTTP/2 session with the client identity, for requests HboneClient would never send. */
async function rawSession(t: import('ava').ExecutionContext, mesh: Mesh): Promise<ClientHttp2Session> {
  const id = await mesh.pki.issue(CLIENT_ID);
  const session = h2connect(`https://127.0.0.1:${mesh.serverPort}`, { key: id.key, cert: id.cert, ca: id.ca, checkServerIdentity: () => undefined });
  session.on('error', () => undefined);
  t.teardown(() => session.destroy());
  return session;
}

function statusOf(session: ClientHttp2Session, headers: Record<string, string>): Promise<{ status: number; code: unknown }> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: false });
    req.on('response', (h) => resolve({ status: Number(h[':status']), code: h['ambit-hbone-error'] }));
    req.on('error', reject);
  });
}

test('authorize deny: the client gets EHBONE_DENIED and the server counts it', async (t) => {
  const denied: string[] = [];
  let forbidden = 0;
  const mesh = await startMesh(t, {
    server: {
      authorize: ({ peerIdentity, destination }) =>
        destination.port === forbidden ? { allow: false, reason: `${peerIdentity} may not reach ${destination.port}` } : { allow: true },
      events: { rejected: (info) => denied.push(`${info.code} ${info.reason}`) },
    },
  });
  const up = await upstream(t, mesh, echo);
  forbidden = up.port;
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_DENIED');
  t.is(err?.context.status, 403);
  t.regex(err?.message ?? '', /403/);
  t.is(mesh.server.stats().rejections.EHBONE_DENIED, 1);
  t.is(denied.length, 1);
  t.regex(denied[0]!, /^EHBONE_DENIED .*productpage may not reach/);
  t.is(mesh.client.stats().failures.EHBONE_DENIED, 1);
});

test('resolveUpstream refusal: 400 EHBONE_REFUSED, so 15008 is no open relay', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, undefined, echo); // listening but not registered as a workload
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_REFUSED');
  t.is(err?.context.status, 400);
  t.is(mesh.server.stats().rejections.EHBONE_REFUSED, 1);
});

test('upstream connect refused: 503 for that stream, the session keeps serving', async (t) => {
  const mesh = await startMesh(t);
  const good = await upstream(t, mesh, echo);
  const dead = await closedPort();
  mesh.allowed.add(dead);
  const first = await mesh.client.connect({ peer: mesh.peer, authority: good.authority, source: CLIENT_ID });
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: `127.0.0.1:${dead}`, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_UPSTREAM_UNAVAILABLE');
  t.is(err?.context.status, 503);
  // The stream opened before the failure and a new one both still work, on the same session.
  const second = await mesh.client.connect({ peer: mesh.peer, authority: good.authority, source: CLIENT_ID });
  first.end('one');
  second.end('two');
  t.is((await readAll(first)).toString(), 'one');
  t.is((await readAll(second)).toString(), 'two');
  t.is(mesh.client.stats().sessionsTotal, 1);
  t.is(mesh.server.stats().upstreamFailures, 1);
});

test('an upstream reset mid-stream becomes RST_STREAM CONNECT_ERROR (EHBONE_CONNECT_ERROR)', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, (socket) => socket.once('data', () => socket.resetAndDestroy()));
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  let ended = false;
  stream.on('end', () => (ended = true)).resume();
  stream.write('trigger');
  // Listen for 'error' itself: async iterators and finished() report Node's
  // 'aborted' as ERR_STREAM_PREMATURE_CLOSE before the typed error arrives.
  const err = await new Promise<HboneError>((resolve) => stream.once('error', resolve));
  t.false(ended, 'a reset must not look like EOF');
  t.true(err instanceof HboneError);
  t.is(err?.code, 'EHBONE_CONNECT_ERROR');
  t.is(stream.rstCode, 0xa);
});

test('a client reset reaches the upstream as a TCP reset', async (t) => {
  const mesh = await startMesh(t);
  let upstreamError: Promise<string> | undefined;
  const up = await upstream(t, mesh, (socket) => {
    upstreamError = new Promise((resolve) => {
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      socket.on('end', () => resolve('clean end'));
    });
    socket.write('hello');
  });
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  await new Promise((resolve) => stream.once('data', resolve));
  resetStream(stream, 0x8);
  t.is(await upstreamError, 'ECONNRESET');
});

test('non-CONNECT is 405 and a malformed authority is 400', async (t) => {
  const mesh = await startMesh(t);
  const session = await rawSession(t, mesh);
  t.deepEqual(await statusOf(session, { ':method': 'GET', ':path': '/', ':authority': '127.0.0.1:1' }), { status: 405, code: 'EHBONE_BAD_METHOD' });
  for (const authority of ['example.com:80', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:99999', '[::1]80', '::1:80', '1.2.3.4:8a']) {
    t.deepEqual(await statusOf(session, { ':method': 'CONNECT', ':authority': authority }), { status: 400, code: 'EHBONE_BAD_AUTHORITY' }, authority);
  }
  t.is(mesh.server.stats().rejections.EHBONE_BAD_AUTHORITY, 7);
});

test('a client-side malformed authority never leaves the process', async (t) => {
  const mesh = await startMesh(t);
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: 'reviews:9080', source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_BAD_AUTHORITY');
  t.is(mesh.client.stats().sessionsTotal, 0);
});

test('expectedServerIdentity mismatch is EHBONE_PEER_IDENTITY', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const err = await t.throwsAsync(
    mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID, expectedServerIdentity: (id) => id.endsWith('/sa/someone-else') }),
    { instanceOf: HboneError },
  );
  t.is(err?.code, 'EHBONE_PEER_IDENTITY');
  t.regex(err?.message ?? '', /node-b/);
});

test('a throwing authorize hook fails closed', async (t) => {
  const mesh = await startMesh(t, { server: { authorize: () => Promise.reject(new Error('policy store down')) } });
  const up = await upstream(t, mesh, echo);
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_DENIED');
});
