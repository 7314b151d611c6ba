/** The admin (15000) and metrics (15020) HTTP handlers, on real servers on 127.0.0.1:0 with fake sources. */
import test, { type ExecutionContext } from 'ava';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { adminHandler, boundPort, listenHttp, metricsHandler, type AdminSources } from '../../daemon/admin.js';
import { DaemonMetrics } from '../../daemon/metrics.js';

async function serve(
  t: ExecutionContext,
  handler: Parameters<typeof listenHttp>[0],
): Promise<(path: string, method?: string) => Promise<{ status: number; type: string; body: string }>> {
  const server: Server = await listenHttp(handler, 0, '127.0.0.1');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${boundPort(server)}`;
  return async (path, method = 'GET') => {
    const res = await fetch(`${base}${path}`, { method });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  };
}

/** A logger whose lines go nowhere (pino reports a disabled logger's level as silent). */
const quietLogger = () => pino({ level: 'info' }, new Writable({ write: (_chunk, _enc, done) => done() }));

function sources(over: Partial<AdminSources> = {}): AdminSources {
  return {
    configDump: () => ({ revision: 42, services: [{ name: 'reviews.default.svc.cluster.local', vip: '240.240.0.1' }] }),
    tunnels: () => ({ outbound: [], ejected: [] }),
    certs: () => ({ node: 'spiffe://cluster.local/ambit/node/a' }),
    workloads: () => [{ service: 'productpage' }],
    ready: () => ({ ready: true, reasons: [] }),
    logger: quietLogger(),
    ...over,
  };
}

test('config_dump, tunnels, certs and workloads are JSON from their sources', async (t) => {
  const get = await serve(t, adminHandler(sources()));
  const dump = await get('/config_dump');
  t.is(dump.status, 200);
  t.regex(dump.type, /application\/json/);
  t.is((JSON.parse(dump.body) as { revision: number }).revision, 42);
  t.deepEqual(JSON.parse((await get('/tunnels')).body), { outbound: [], ejected: [] });
  t.deepEqual(JSON.parse((await get('/certs')).body), { node: 'spiffe://cluster.local/ambit/node/a' });
  t.deepEqual(JSON.parse((await get('/workloads')).body), [{ service: 'productpage' }]);
  const missing = await get('/nope');
  t.is(missing.status, 404);
  t.true((JSON.parse(missing.body) as { paths: string[] }).paths.includes('/config_dump'));
});

test('the log level changes only with POST, and only to a known level', async (t) => {
  const logger = quietLogger();
  const call = await serve(t, adminHandler(sources({ logger })));
  t.deepEqual(JSON.parse((await call('/logging')).body), { level: 'info' });
  t.is((await call('/logging?level=debug')).status, 405, 'GET must not change state');
  t.is(logger.level, 'info');
  t.is((await call('/logging?level=loud', 'POST')).status, 400);
  const changed = await call('/logging?level=debug', 'POST');
  t.is(changed.status, 200);
  t.deepEqual(JSON.parse(changed.body), { level: 'debug' });
  t.is(logger.level, 'debug');
});

test('/healthz/ready is 503 with reasons until ready, on both ports', async (t) => {
  let state = { ready: false, reasons: ['no config snapshot yet'] };
  const admin = await serve(t, adminHandler(sources({ ready: () => state })));
  const metrics = await serve(t, metricsHandler(new Registry(), { ready: () => state }));
  for (const get of [admin, metrics]) {
    const r = await get('/healthz/ready');
    t.is(r.status, 503);
    t.deepEqual((JSON.parse(r.body) as { reasons: string[] }).reasons, ['no config snapshot yet']);
  }
  state = { ready: true, reasons: [] };
  t.is((await admin('/healthz/ready')).status, 200);
  t.is((await metrics('/healthz/ready')).status, 200);
});

test('metrics are Prometheus text with the registry’s content type, also at /stats/prometheus', async (t) => {
  const m = new DaemonMetrics();
  m.configRevision.set(9);
  const get = await serve(t, metricsHandler(m.registry, { ready: () => ({ ready: true, reasons: [] }) }));
  const r = await get('/metrics');
  t.is(r.status, 200);
  t.is(r.type, m.registry.contentType);
  t.regex(r.type, /^text\/plain; version=0\.0\.4/);
  t.regex(r.body, /# TYPE \S+ \w+/);
  t.regex(r.body, /config_revision\S* 9/);
  t.is((await get('/stats/prometheus')).status, 200);
  t.is((await get('/other')).status, 404);
});

test('ambit_cert_expiry_seconds is read from the certificates held at each scrape: one series per identity, none for a pending one', async (t) => {
  const m = new DaemonMetrics();
  let certs: { spiffeId: string; remainingSeconds?: number }[] = [
    { spiffeId: 'spiffe://cluster.local/ambit/node/a', remainingSeconds: 600_000 },
    { spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews', remainingSeconds: 3600 },
    { spiffeId: 'spiffe://cluster.local/ns/default/sa/pending' },
  ];
  m.certExpiryFrom(() => certs);
  const get = await serve(t, metricsHandler(m.registry, { ready: () => ({ ready: true, reasons: [] }) }));
  const series = async () => (await get('/metrics')).body.split('\n').filter((l) => l.startsWith('ambit_cert_expiry_seconds{'));
  t.deepEqual(await series(), [
    'ambit_cert_expiry_seconds{identity="spiffe://cluster.local/ambit/node/a"} 600000',
    'ambit_cert_expiry_seconds{identity="spiffe://cluster.local/ns/default/sa/reviews"} 3600',
  ]);
  // Renewed, and one identity gone: the next scrape says so, with no stale series.
  certs = [{ spiffeId: 'spiffe://cluster.local/ambit/node/a', remainingSeconds: 604_800 }];
  t.deepEqual(await series(), ['ambit_cert_expiry_seconds{identity="spiffe://cluster.local/ambit/node/a"} 604800']);
});
