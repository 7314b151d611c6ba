import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { connect } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import dnsPacket from 'dns-packet';
import { MeshDnsServer, type DnsQueryEvent, type MeshDnsServerOptions } from '../../daemon/dns/server.js';
import { decode, query, startFakeUpstream, tcpExchange, udpExchange } from '../helpers/dns-harness.js';

const VIP = '240.240.12.34';
const MANY = Array.from({ length: 60 }, (_, i) => `240.240.1.${i + 1}`);
const SERVICES = new Map<string, { addresses: string[] }>([
  ['reviews.default.svc.cluster.local', { addresses: [VIP] }],
  ['dual.default.svc.cluster.local', { addresses: ['240.240.0.9', 'fd00:ab::9'] }],
  ['wide.default.svc.cluster.local', { addresses: MANY }],
  // A ServiceEntry host outside the mesh domain.
  ['api.partner.example', { addresses: ['240.240.7.7'] }],
]);

async function startDns(t: ExecutionContext, options: Partial<MeshDnsServerOptions> = {}): Promise<MeshDnsServer> {
  const server = new MeshDnsServer({ port: 0, resolve: (name) => SERVICES.get(name), upstreams: [], forwardTimeoutMs: 600, ...options });
  await server.start();
  t.teardown(() => server.close());
  return server;
}

/** node's own resolver (c-ares) as an independent client; it retries over TCP on TC by itself. */
function client(server: MeshDnsServer): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
  return resolver;
}

test('an A query for a mesh service answers its VIP with a short TTL (node resolver as client)', async (t) => {
  const server = await startDns(t);
  const records = await client(server).resolve4('reviews.default.svc.cluster.local', { ttl: true });
  t.deepEqual(records, [{ address: VIP, ttl: 30 }]);
  const reply = decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local')));
  t.is(reply.rcode, 'NOERROR');
  t.true(reply.flag_aa);
  t.is(reply.id, 4242);
});

test('an unknown name under svc.<domain> is NXDOMAIN, answered without asking upstream', async (t) => {
  const upstream = await startFakeUpstream(t);
  const server = await startDns(t, { upstreams: [upstream.spec] });
  const reply = decode(await udpExchange(server.port, query('nope.default.svc.cluster.local')));
  t.is(reply.rcode, 'NXDOMAIN');
  t.true(reply.flag_aa);
  t.is(reply.answers?.length, 0);
  await t.throwsAsync(client(server).resolve4('ghost.other.svc.cluster.local'), { code: 'ENOTFOUND' });
  t.is(upstream.queries.length, 0);
});

test('AAAA for a v4-only service is NOERROR with no answers; a v6 VIP is answered', async (t) => {
  const server = await startDns(t);
  const nodata = decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local', 'AAAA')));
  t.is(nodata.rcode, 'NOERROR');
  t.deepEqual(nodata.answers, []);
  t.deepEqual(await client(server).resolve6('dual.default.svc.cluster.local'), ['fd00:ab::9']);
  t.deepEqual(await client(server).resolve4('dual.default.svc.cluster.local'), ['240.240.0.9']);
  // Other types for a mesh name: NODATA too, not NXDOMAIN (the name exists).
  t.is(decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local', 'MX'))).rcode, 'NOERROR');
});

test('names are case-insensitive and may be fully qualified; the answer echoes the name as asked', async (t) => {
  const server = await startDns(t);
  for (const name of ['Reviews.DEFAULT.svc.Cluster.Local', 'reviews.default.svc.cluster.local.', 'API.partner.example']) {
    const reply = decode(await udpExchange(server.port, query(name)));
    t.is(reply.rcode, 'NOERROR', name);
    t.is(reply.answers?.length, 1, name);
    t.is(reply.answers?.[0]?.name, name.replace(/\.$/, ''), name);
  }
});

test('Kubernetes short forms <svc>.<ns>.svc and <svc>.<ns> resolve to the mesh service', async (t) => {
  const server = await startDns(t);
  const resolver = client(server);
  t.deepEqual(await resolver.resolve4('reviews.default.svc'), [VIP]);
  t.deepEqual(await resolver.resolve4('reviews.default'), [VIP]);
});

test('a non-mesh name is forwarded and the upstream answer relayed unchanged, with the client id', async (t) => {
  const upstream = await startFakeUpstream(t);
  const server = await startDns(t, { upstreams: [upstream.spec] });
  const raw = await udpExchange(server.port, query('www.example.org', 'A', 0xbeef));
  t.is(raw.readUInt16BE(0), 0xbeef);
  // Byte for byte what the upstream sent, but for the id the forwarder chose.
  t.deepEqual(raw.subarray(2), upstream.lastReply!.subarray(2));
  const reply = decode(raw);
  t.deepEqual(
    reply.answers?.map((a) => a.data),
    ['192.0.2.10', [Buffer.from('from-fake-upstream')]],
  );
  t.is(upstream.queries.length, 1);
  t.is(upstream.queries[0]!.questions![0]!.name, 'www.example.org');
  // The upstream saw a fresh id, not the client's.
  t.not(upstream.queries[0]!.id, 0xbeef);
  // Through node's resolver too.
  t.deepEqual(await client(server).resolve4('other.example.net'), ['192.0.2.10']);
});

test('a short name that matches no mesh service is forwarded, not NXDOMAIN', async (t) => {
  const upstream = await startFakeUpstream(t);
  const server = await startDns(t, { upstreams: [upstream.spec] });
  t.deepEqual(await client(server).resolve4('example.com'), ['192.0.2.10']);
  t.is(upstream.queries[0]?.questions?.[0]?.name, 'example.com');
});

test('an upstream that never answers gives SERVFAIL within the forwarding timeout', async (t) => {
  const blackhole = await startFakeUpstream(t, () => 'drop');
  const server = await startDns(t, { upstreams: [blackhole.spec], forwardTimeoutMs: 300 });
  const started = Date.now();
  const reply = decode(await udpExchange(server.port, query('slow.example.org', 'A', 77)));
  const elapsed = Date.now() - started;
  t.is(reply.rcode, 'SERVFAIL');
  t.is(reply.id, 77);
  t.is(reply.questions?.[0]?.name, 'slow.example.org');
  t.true(elapsed >= 250 && elapsed < 1500, `took ${elapsed} ms`);
});

test('a dead upstream is skipped for the next one; all dead is SERVFAIL', async (t) => {
  const alive = await startFakeUpstream(t);
  // Nothing listens on 127.0.0.3 at this port: the connected UDP socket sees ECONNREFUSED at once.
  const dead = `127.0.0.3:${alive.port}`;
  const server = await startDns(t, { upstreams: [dead, alive.spec], forwardTimeoutMs: 2000 });
  t.deepEqual(await client(server).resolve4('fallback.example.org'), ['192.0.2.10']);
  const allDead = await startDns(t, { upstreams: [dead], forwardTimeoutMs: 2000 });
  const started = Date.now();
  t.is(decode(await udpExchange(allDead.port, query('x.example.org'))).rcode, 'SERVFAIL');
  t.true(Date.now() - started < 1000, 'refused upstream fails fast, without waiting for the timeout');
});

test('no upstream at all is SERVFAIL, mesh names still answer', async (t) => {
  const server = await startDns(t, { upstreams: [] });
  t.is(decode(await udpExchange(server.port, query('example.org'))).rcode, 'SERVFAIL');
  t.is(decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local'))).answers?.[0]?.data, VIP);
});

test('TCP: pipelined queries on one connection, mesh and forwarded (forwarded over TCP)', async (t) => {
  const upstream = await startFakeUpstream(t);
  const server = await startDns(t, { upstreams: [upstream.spec] });
  const replies = (await tcpExchange(server.port, [query('reviews.default.svc.cluster.local', 'A', 1), query('tcp.example.org', 'A', 2)])).map(decode);
  const byId = new Map(replies.map((r) => [r.id, r]));
  t.is(byId.get(1)?.answers?.[0]?.data, VIP);
  t.is(byId.get(2)?.answers?.[0]?.data, '192.0.2.10');
  t.is(upstream.queries.length, 1);
});

test('a large answer is truncated over UDP and complete over TCP', async (t) => {
  const server = await startDns(t);
  const udp = decode(await udpExchange(server.port, query('wide.default.svc.cluster.local')));
  t.true(udp.flag_tc);
  t.deepEqual(udp.answers, []);
  const [tcp] = (await tcpExchange(server.port, [query('wide.default.svc.cluster.local')])).map(decode);
  t.is(tcp?.answers?.length, MANY.length);
  // c-ares retries over TCP on TC by itself.
  t.deepEqual((await client(server).resolve4('wide.default.svc.cluster.local')).sort(), [...MANY].sort());
});

test('garbage never crashes the server: short junk is dropped, undecodable queries get FORMERR', async (t) => {
  const server = await startDns(t);
  await t.throwsAsync(udpExchange(server.port, Buffer.from('hello'), 300), { message: /no UDP reply/ });
  // A 12-byte header claiming one question that is not there.
  const truncated = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  const formerr = decode(await udpExchange(server.port, truncated));
  t.is(formerr.rcode, 'FORMERR');
  t.is(formerr.id, 0x1234);
  // Two questions: valid wire format, but not a query we serve.
  const two = dnsPacket.encode({
    type: 'query',
    id: 9,
    questions: [
      { type: 'A', name: 'a.example' },
      { type: 'A', name: 'b.example' },
    ],
  });
  t.is(decode(await udpExchange(server.port, two)).rcode, 'FORMERR');
  // A response sent to us is ignored (answering responses is how loops start).
  const response = dnsPacket.encode({ type: 'response', id: 5, questions: [{ type: 'A', name: 'x.example' }] });
  await t.throwsAsync(udpExchange(server.port, response, 300));
  // An UPDATE (opcode 5) is not implemented.
  const update = Buffer.from(query('reviews.default.svc.cluster.local'));
  update.writeUInt16BE(5 << 11, 2);
  t.is(decode(await udpExchange(server.port, update)).rcode, 'NOTIMP');
  // Over TCP too; then junk that is not even a frame, on a connection of its own.
  t.is(decode((await tcpExchange(server.port, [truncated]))[0]!).rcode, 'FORMERR');
  const junk = connect({ port: server.port, host: '127.0.0.1' });
  junk.on('error', () => undefined);
  junk.end(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
  await once(junk, 'close');
  t.is(decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local'))).answers?.[0]?.data, VIP);
  t.is(decode((await tcpExchange(server.port, [query('reviews.default.svc.cluster.local')]))[0]!).answers?.[0]?.data, VIP);
});

test('a lookup function that throws gives SERVFAIL, not a crash', async (t) => {
  const server = await startDns(t, {
    resolve: () => {
      throw new Error('snapshot not loaded');
    },
  });
  t.is(decode(await udpExchange(server.port, query('reviews.default.svc.cluster.local'))).rcode, 'SERVFAIL');
});

test('EDNS queries get an EDNS answer', async (t) => {
  const server = await startDns(t);
  const edns = query('reviews.default.svc.cluster.local', 'A', 3, {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  const reply = decode(await udpExchange(server.port, edns));
  t.is(reply.answers?.[0]?.data, VIP);
  t.is(reply.additionals?.[0]?.type, 'OPT');
});

test('the metrics hook sees every query with its type, result and transport', async (t) => {
  const upstream = await startFakeUpstream(t);
  const events: DnsQueryEvent[] = [];
  const server = await startDns(t, { upstreams: [upstream.spec], metrics: { onQuery: (e) => events.push(e) } });
  await udpExchange(server.port, query('reviews.default.svc.cluster.local'));
  await udpExchange(server.port, query('ghost.default.svc.cluster.local', 'AAAA'));
  await udpExchange(server.port, query('www.example.org'));
  await tcpExchange(server.port, [query('reviews.default.svc.cluster.local', 'AAAA')]);
  t.deepEqual(
    events.map(({ type, result, transport }) => ({ type, result, transport })),
    [
      { type: 'A', result: 'answered', transport: 'udp' },
      { type: 'AAAA', result: 'nxdomain', transport: 'udp' },
      { type: 'A', result: 'forwarded', transport: 'udp' },
      { type: 'AAAA', result: 'answered', transport: 'tcp' },
    ],
  );
  t.true(events.every((e) => e.durationMs >= 0));
});

test('a port already in use is a typed EDNS_BIND error', async (t) => {
  const first = await startDns(t);
  const second = new MeshDnsServer({ port: first.port, resolve: () => undefined, upstreams: [] });
  await t.throwsAsync(second.start(), { code: 'EDNS_BIND' });
});
