/**
 * HboneServer's `accept` upstream decision: the server answers 200 and hands
 * the CONNECT stream to a handler in-process (how a waypoint terminates
 * tunnels) instead of dialing a TCP upstream.
 */
import test from 'ava';
import type { ConnectRequest } from '../../core/hbone/index.js';
import { CLIENT_ID, readAll, startMesh, until } from '../helpers/hbone-harness.js';

test('accept: the handler gets the stream and the verified caller; bytes flow both ways with half-close', async (t) => {
  const seen: ConnectRequest[] = [];
  const mesh = await startMesh(t, {
    server: {
      resolveUpstream: () => ({
        accept: (stream, request) => {
          seen.push(request);
          readAll(stream).then(
            (b) => stream.end(b.toString().toUpperCase()),
            () => undefined,
          );
        },
      }),
    },
  });
  const stream = await mesh.client.connect({ peer: mesh.peer, authority: '240.240.0.7:9080', source: CLIENT_ID });
  stream.end('hello waypoint');
  t.is((await readAll(stream)).toString(), 'HELLO WAYPOINT');
  t.is(seen.length, 1);
  t.is(seen[0]!.peerIdentity, CLIENT_ID);
  t.like(seen[0]!.destination, { host: '240.240.0.7', port: 9080 });
  await until(() => mesh.server.stats().streamsActive === 0);
  t.is(mesh.server.stats().streamsTotal, 1);
});

test('accept: a handler that throws resets only its stream; the session carries the next one', async (t) => {
  let calls = 0;
  const mesh = await startMesh(t, {
    server: {
      resolveUpstream: () => ({
        accept: (stream) => {
          if (++calls === 1) throw new Error('boom');
          stream.end('second');
        },
      }),
    },
  });
  const first = await mesh.client.connect({ peer: mesh.peer, authority: '127.0.0.1:1', source: CLIENT_ID });
  await t.throwsAsync(readAll(first));
  const second = await mesh.client.connect({ peer: mesh.peer, authority: '127.0.0.1:1', source: CLIENT_ID });
  second.end();
  t.is((await readAll(second)).toString(), 'second');
  t.is(mesh.client.stats().sessionsTotal, 1);
});
