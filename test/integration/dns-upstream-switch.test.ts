/** MeshDnsServer.setUpstreams (ambitd's SIGHUP): non-mesh queries go to the new resolvers from the next query on. */
import test from 'ava';
import { MeshDnsServer } from '../../daemon/dns/server.js';
import { decode, query, startFakeUpstream, udpExchange } from '../helpers/dns-harness.js';

test('switching upstreams sends the next forwarded query to the new resolver only', async (t) => {
  const first = await startFakeUpstream(t, undefined, '127.0.0.2');
  const second = await startFakeUpstream(t, undefined, '127.0.0.3');
  const server = new MeshDnsServer({ port: 0, resolve: () => undefined, upstreams: [first.spec], forwardTimeoutMs: 1000 });
  await server.start();
  t.teardown(() => server.close());

  t.is(decode(await udpExchange(server.port, query('www.example.org', 'A', 1))).rcode, 'NOERROR');
  t.is(first.queries.length, 1);

  await server.setUpstreams([second.spec]);
  const reply = decode(await udpExchange(server.port, query('www.example.org', 'A', 2)));
  t.is(reply.rcode, 'NOERROR');
  t.is(reply.id, 2);
  t.is(second.queries.length, 1);
  t.is(first.queries.length, 1, 'the old resolver is no longer asked');
});
