/**
 * core/telemetry/tap-http.ts over a real loopback HTTP server: NDJSON as
 * records come, the filter and max applied, bad parameters refused with 400,
 * and a client that stops reading never blocks publish (records beyond the
 * queue are dropped and counted).
 */
import test from 'ava';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { serveTap } from '../../core/telemetry/tap-http.js';
import { QUEUE_LIMIT, TapHub, type TapFilterBase } from '../../core/telemetry/tap-hub.js';

interface Rec {
  n: number;
  big?: string;
}
type Filter = TapFilterBase & { even?: boolean };

const start = async (t: import('ava').ExecutionContext) => {
  const registry = new Registry();
  const dropped = new Counter({ name: 'dropped', help: 'h', registers: [registry] });
  const hub = new TapHub<Rec, Filter>((f, _s, r) => !f.even || r.n % 2 === 0, dropped);
  const server = createServer((req, res) =>
    serveTap(hub, new URL(req.url ?? '/', 'http://x'), req, res, (p) => {
      const even = p.get('even');
      if (even !== null && even !== 'yes') return `even ${JSON.stringify(even)}: yes or nothing`;
      return even ? { even: true } : {};
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    hub.close();
    server.closeAllConnections();
    server.close();
  });
  return { hub, dropped, port: (server.address() as AddressInfo).port };
};

const get = (port: number, path: string) =>
  new Promise<IncomingMessage>((resolve, reject) => request({ host: '127.0.0.1', port, path, agent: false }, resolve).on('error', reject).end());

const body = async (res: IncomingMessage) => {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
};

test('streams the matching records of one service as NDJSON and ends after max', async (t) => {
  const { hub, port } = await start(t);
  const res = await get(port, '/tap?service=a&even=yes&max=2');
  t.is(res.statusCode, 200);
  t.is(res.headers['content-type'], 'application/x-ndjson');
  t.true(hub.tapping('a'));
  t.false(hub.tapping('b'));
  for (let n = 1; n <= 6; n++) hub.publish(n === 3 ? 'b' : 'a', { n });
  t.deepEqual(
    (await body(res))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown),
    [{ request: { n: 2 } }, { request: { n: 4 } }],
  );
  t.is(hub.subscribers, 0);
});

test('bad parameters are refused, nothing subscribed', async (t) => {
  const { hub, port } = await start(t);
  for (const [q, message] of [
    ['max=0', /max "0": a whole number from 1 to 100000/],
    ['max=x', /max "x"/],
    ['even=no', /even "no": yes or nothing/],
  ] as const) {
    const res = await get(port, `/tap?${q}`);
    t.is(res.statusCode, 400);
    t.regex((JSON.parse(await body(res)) as { error: string }).error, message);
  }
  t.is(hub.subscribers, 0);
});

test('a client that stops reading never blocks publish: what does not fit is dropped and counted, and the client leaving unsubscribes', async (t) => {
  const { hub, dropped, port } = await start(t);
  const res = await get(port, '/tap');
  res.pause();
  const big = 'x'.repeat(64 * 1024);
  const total = QUEUE_LIMIT + 500;
  // Some 70 MB the paused socket cannot take: publish only queues, then drops (a write that blocked would never return here).
  for (let n = 0; n < total; n++) hub.publish('a', { n, big });
  const lost = (await dropped.get()).values[0]?.value ?? 0;
  t.true(lost >= 400 && lost <= 500, `dropped ${lost}: all but the queue and what the socket took`);
  res.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.is(hub.subscribers, 0);
});
