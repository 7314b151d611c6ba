/**
 * What a hostile or dead peer can hold on port 15008, with real TLS and real
 * processes: connections that never handshake are cut at the deadline, one
 * address gets a bounded number of unfinished handshakes, a stream past the
 * concurrency limit is refused alone (python3-h2 as the client, so our own
 * client's politeness proves nothing), and a peer that dies with full windows
 * leaves no stream and no upstream socket behind.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { CLIENT_ID, echo, startMesh, until, upstream, type Mesh } from '../helpers/hbone-harness.js';

const PYTHON = '/usr/bin/python3';
const FIXTURE = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const DEAD_PEER = fileURLToPath(new URL('../helpers/dead-peer-client.js', import.meta.url));

/** Mesh PEM files of CLIENT_ID (cert.pem, key.pem, ca.pem) in a folder removed at teardown. */
async function clientPems(t: ExecutionContext, mesh: Mesh): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-hbone-limits-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const id = await mesh.pki.issue(CLIENT_ID);
  await Promise.all([
    writeFile(join(dir, 'cert.pem'), String(id.cert)),
    writeFile(join(dir, 'key.pem'), String(id.key)),
    writeFile(join(dir, 'ca.pem'), mesh.pki.rootPem),
  ]);
  return dir;
}

function run(file: string, args: string[], timeout = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** `n` TCP connections to the server that send nothing at all. */
async function silent(t: ExecutionContext, port: number, n: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      await once(s, 'connect');
      return s;
    }),
  );
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  return sockets;
}

const closed = (s: Socket): boolean => s.destroyed || s.readableEnded;

test('50 connections that never send a ClientHello are all closed at the handshake deadline, and counted', async (t) => {
  const mesh = await startMesh(t, { server: { handshake: { timeoutMs: 500, maxPendingPerAddress: 100 } } });
  const sockets = await silent(t, mesh.serverPort, 50);
  for (const s of sockets) s.on('end', () => s.destroy());
  t.true(sockets.every((s) => !closed(s)));
  await until(() => sockets.every(closed), 10_000);
  const stats = mesh.server.stats();
  t.is(stats.handshakeFailuresByReason.EHBONE_HANDSHAKE_TIMEOUT, 50);
  t.is(stats.handshakesPending, 0);
  // A real client afterwards is not affected by the deadline.
  const up = await upstream(t, mesh, echo);
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  stream.end('ok');
  for await (const _ of stream) break;
});

test('one address gets at most maxPendingPerAddress unfinished handshakes; the excess is closed at once', async (t) => {
  const mesh = await startMesh(t, { server: { handshake: { timeoutMs: 60_000, maxPendingPerAddress: 5 } } });
  const held = await silent(t, mesh.serverPort, 5);
  await until(() => mesh.server.stats().handshakesPending === 5);
  const excess = await silent(t, mesh.serverPort, 3);
  for (const s of excess) s.on('end', () => s.destroy());
  await until(() => excess.every(closed), 5000);
  t.true(held.every((s) => !closed(s)));
  t.is(mesh.server.stats().handshakeFailuresByReason.EHBONE_HANDSHAKE_LIMIT, 3);
  // Once the held ones go, the address may handshake again.
  held.forEach((s) => s.destroy());
  await until(() => mesh.server.stats().handshakesPending === 0);
  const up = await upstream(t, mesh, echo);
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID });
  stream.destroy();
});

test('python3-h2 past the stream limit: that stream gets REFUSED_STREAM, the connection and its other streams keep working', async (t) => {
  const limit = 4;
  const mesh = await startMesh(t, { server: { tuning: { maxConcurrentStreams: limit } } });
  const up = await upstream(t, mesh, echo);
  const dir = await clientPems(t, mesh);
  const out = await run(PYTHON, [
    FIXTURE('hbone_stream_limit.py'),
    ...['--port', String(mesh.serverPort), '--authority', up.authority, '--limit', String(limit), '--extra', '2'],
    ...['--ca', join(dir, 'ca.pem'), '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem')],
  ]);
  t.log(out.trim());
  const result = JSON.parse(out) as { results: Record<string, string>; echo: string; goaway: number | null; error: string | null };
  t.is(result.error, null);
  t.is(result.goaway, null);
  t.deepEqual(result.results, { 1: '200', 3: '200', 5: '200', 7: '200', 9: 'reset:7', 11: 'reset:7' });
  t.is(result.echo, 'still here');
  t.is(mesh.server.stats().rejections.EHBONE_STREAM_LIMIT, 2);
});

test('a peer that dies with full windows (streams written, never read) leaves 0 streams and 0 upstream sockets', async (t) => {
  const mesh = await startMesh(t, { server: { keepalive: { intervalMs: 500, timeoutMs: 1000 } } });
  const up = await upstream(t, mesh, echo);
  const dir = await clientPems(t, mesh);
  const out = await run(process.execPath, [
    DEAD_PEER,
    ...['--port', String(mesh.serverPort), '--authority', up.authority, '--dir', dir],
    ...['--conns', '4', '--streams', '10', '--mib', '16', '--stall-ms', '500'],
  ]);
  t.log(out.trim());
  t.is((JSON.parse(out) as { streams: number }).streams, 40);
  await until(() => {
    const s = mesh.server.stats();
    return s.streamsOpen === 0 && s.upstreamSockets === 0 && s.sessionsActive === 0;
  }, 30_000);
  t.pass();
});

test('close() ends by its grace period even with sockets that never handshake, so a drain cannot be held', async (t) => {
  // A deadline far past the grace: only close() itself can end these.
  const mesh = await startMesh(t, { server: { handshake: { timeoutMs: 60_000, maxPendingPerAddress: 100 } } });
  const sockets = await silent(t, mesh.serverPort, 5);
  const started = Date.now();
  await mesh.server.close(300);
  const took = Date.now() - started;
  t.true(took < 3000, `close(300) took ${took} ms`);
  await until(() => sockets.every(closed), 2000);
});
