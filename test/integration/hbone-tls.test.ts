import { connect as h2connect } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import test from 'ava';
import { HboneClient, HboneError } from '../../core/hbone/index.js';
import { CLIENT_ID, echo, readAll, SERVER_ID, startMesh, type Mesh, until, upstream } from '../helpers/hbone-harness.js';
import { makeTestCa, workload } from '../helpers/test-pki.js';

async function roundTrip(mesh: Mesh, authority: string, client = mesh.client, source = CLIENT_ID): Promise<string> {
  const stream = await client.connect({ peer: mesh.peer, authority, source });
  stream.end('ping');
  return (await readAll(stream)).toString();
}

test('a client certificate from another CA is refused at TLS', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const rogue = await makeTestCa();
  const rogueId = await rogue.issue(CLIENT_ID, { trust: mesh.pki.rootPem }); // trusts the mesh, is not trusted by it
  const client = new HboneClient({ getSecureContext: () => rogueId });
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_TLS', err?.message);
  await until(() => mesh.server.stats().handshakeFailures === 1);
  t.is(mesh.server.stats().streamsTotal, 0);
  t.is(await roundTrip(mesh, up.authority), 'ping', 'a good client is still served');
});

test('a server certificate from another CA is refused by the client', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const rogue = await makeTestCa();
  mesh.server.setSecureContext({ ...(await rogue.issue(SERVER_ID)), ca: mesh.pki.rootPem });
  const err = await t.throwsAsync(mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_TLS', err?.message);
});

test('a client without a certificate is refused', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const session = h2connect(`https://127.0.0.1:${mesh.serverPort}`, { ca: mesh.pki.rootPem, checkServerIdentity: () => undefined });
  session.on('error', () => undefined);
  t.teardown(() => session.destroy());
  const req = session.request({ ':method': 'CONNECT', ':authority': up.authority });
  const outcome = await new Promise<string>((resolve) => {
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.on('response', (h) => resolve(`answered ${String(h[':status'])}`));
  });
  t.regex(outcome, /CERTIFICATE_REQUIRED|ECONNRESET/);
  await until(() => mesh.server.stats().handshakeFailures === 1);
  t.is(mesh.server.stats().streamsTotal, 0);
});

test('garbage, plaintext HTTP/2 and TLS without ALPN h2 are closed; the server keeps serving', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const probes: Array<() => TLSSocket | ReturnType<typeof tcpConnect>> = [
    () => tcpConnect(mesh.serverPort, '127.0.0.1').end(Buffer.from('\x16\x03\x01\x00\x05hello garbage \x00\xff'.repeat(50), 'latin1')),
    () => tcpConnect(mesh.serverPort, '127.0.0.1').end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00'),
    () => tcpConnect(mesh.serverPort, '127.0.0.1').end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  ];
  const id = await mesh.pki.issue(CLIENT_ID);
  probes.push(() =>
    tlsConnect({
      port: mesh.serverPort,
      host: '127.0.0.1',
      key: id.key,
      cert: id.cert,
      ca: id.ca,
      ALPNProtocols: ['http/1.1'],
      checkServerIdentity: () => undefined,
    }),
  );
  probes.push(() => tlsConnect({ port: mesh.serverPort, host: '127.0.0.1', key: id.key, cert: id.cert, ca: id.ca, checkServerIdentity: () => undefined }));
  for (const probe of probes) {
    const socket = probe();
    socket.on('error', () => undefined);
    socket.resume();
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    t.true(Date.now() - started < 2000, 'closed promptly');
  }
  await until(() => mesh.server.stats().handshakeFailures === probes.length);
  t.is(await roundTrip(mesh, up.authority), 'ping');
});

test('server setSecureContext: new sessions present the new certificate', async (t) => {
  const mesh = await startMesh(t);
  const up = await upstream(t, mesh, echo);
  const first = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID, expectedServerIdentity: SERVER_ID });
  const rotatedId = workload('ambit-system', 'node-b-rotated');
  mesh.server.setSecureContext(await mesh.pki.issue(rotatedId));
  // The pooled session predates the rotation and keeps the old certificate.
  const old = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID, expectedServerIdentity: SERVER_ID });
  old.end();
  await readAll(old);
  mesh.client.rotate();
  const renewed = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID, expectedServerIdentity: rotatedId });
  renewed.end('new');
  t.is((await readAll(renewed)).toString(), 'new');
  first.end('old session still works');
  t.is((await readAll(first)).toString(), 'old session still works');
  t.is(mesh.client.stats().sessionsTotal, 2);
});

test('client rotation: getSecureContext is asked again for new sessions only', async (t) => {
  const serials: string[] = [];
  const mesh = await startMesh(t);
  mesh.server.server.on('secureConnection', (socket: TLSSocket) => serials.push(socket.getPeerCertificate().serialNumber));
  const up = await upstream(t, mesh, echo);
  t.is(await roundTrip(mesh, up.authority), 'ping');
  mesh.identities.set(CLIENT_ID, await mesh.pki.issue(CLIENT_ID));
  t.is(await roundTrip(mesh, up.authority), 'ping'); // pooled: still the first certificate
  mesh.client.rotate(CLIENT_ID);
  t.is(await roundTrip(mesh, up.authority), 'ping');
  t.is(serials.length, 2);
  t.not(serials[0], serials[1]);
});
