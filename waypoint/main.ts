/**
 * `ambit-waypoint`: the L7 proxy for one or more services, started by the
 * daemon of the node it runs on (which enrolls its identity
 * `<svc>-waypoint` and writes its certificate files). Reads the mesh from the
 * store, listens for HBONE on --listen, serves Prometheus metrics (its
 * tunnels, for the daemon's report, and `ambit tap`'s stream: admin-http.ts) on --metrics, re-reads its certificate
 * files and its settings file (--config: tracing) on SIGHUP, drains on SIGTERM.
 * Keeps the last accepted manifest sequence in --state-dir, so a restart
 * refuses an older, replayed manifest.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_NODE_DIR, waypointStateDir } from '../core/identity/client/node-dir.js';
import { createServer } from 'node:http';
import { rootLogger } from '../core/logging.js';
import { createRedis, DEFAULT_REDIS_URL, Store, Watcher } from '../core/store/index.js';
import { StoreBuckets } from './ratelimit/buckets.js';
import { storeOptionsFromEnv } from '../core/store/env-options.js';
import type { TlsIdentity } from '../core/hbone/index.js';
import { spiffeIdOf } from '../core/hbone/index.js';
import { X509Certificate } from 'node:crypto';
import { WaypointError } from './errors.js';
import { startFromStore } from './from-store.js';
import { waypointAdminHandler } from './admin-http.js';
import { loadWaypointSettings } from './settings.js';

interface Flags {
  service: string[];
  listen: string;
  metrics: string;
  cert: string;
  key: string;
  ca: string;
  redis?: string;
  nodeName: string;
  trustDomain: string;
  domain: string;
  drainTime: string;
  shutdownGrace: string;
  protocolDetectionTimeout: string;
  stateDir?: string;
  config?: string;
}

const collect = (v: string, all: string[]) => [...all, v];

const program = new Command('ambit-waypoint')
  .description('ambit waypoint: HTTP routing, resilience, L7 policy and telemetry for a service, over HBONE')
  .requiredOption('-s, --service <fqdn>', 'service to serve (repeatable), e.g. reviews.default.svc.cluster.local', collect, [])
  .option('--listen <host:port>', 'HBONE listen address', '0.0.0.0:15009')
  .option('--metrics <host:port>', 'Prometheus /metrics address', '127.0.0.1:15021')
  .requiredOption('--cert <file>', 'waypoint certificate chain (PEM)')
  .requiredOption('--key <file>', 'waypoint private key (PEM)')
  .requiredOption('--ca <file>', 'trust bundle (PEM)')
  .option('--redis <url>', 'store URL (default AMBIT_REDIS_URL or redis://127.0.0.1:6379)')
  .option('--node-name <name>', 'the node this waypoint runs on', 'waypoint')
  .option('--trust-domain <td>', 'mesh trust domain', 'cluster.local')
  .option('--domain <domain>', 'mesh DNS domain', 'cluster.local')
  .option('--drain-time <ms>', 'on SIGTERM, how long to keep serving while moving clients to new connections', '3000')
  .option('--shutdown-grace <ms>', 'then, how long requests in flight may take before the process exits', '5000')
  .option('--protocol-detection-timeout <ms>', 'treat a tunnel whose client stays silent this long as TCP (0: wait, as Istio does)', '0')
  .option('--state-dir <dir>', `where the last accepted manifest sequence is kept (default ${waypointStateDir(DEFAULT_NODE_DIR, '<first --service>')})`)

  .option('--config <file>', 'settings file (ambit-waypoint.yaml): tracing providers and sampling; re-read on SIGHUP');

function hostPort(s: string, flag: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new WaypointError('EWAYPOINT_CONFIG', `${flag} ${s}: expected host:port`, { flag });
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

function milliseconds(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new WaypointError('EWAYPOINT_CONFIG', `${flag} ${s}: expected a whole number of milliseconds`, { flag });
  return n;
}

function readIdentity(f: Flags): { tls: TlsIdentity; principal: string } {
  const tls = { cert: readFileSync(f.cert, 'utf8'), key: readFileSync(f.key, 'utf8'), ca: readFileSync(f.ca, 'utf8') };
  const principal = spiffeIdOf({ subjectaltname: new X509Certificate(tls.cert).subjectAltName } as never);
  if (!principal) throw new WaypointError('EWAYPOINT_CONFIG', `${f.cert} has no SPIFFE ID; the waypoint needs its <svc>-waypoint identity`, { file: f.cert });
  return { tls, principal };
}

function stateDir(f: Flags): string {
  if (f.stateDir) return f.stateDir;
  const [first] = f.service;
  if (!first) throw new WaypointError('EWAYPOINT_CONFIG', 'no --service given: a waypoint serves at least one service', { flag: '--service' });
  return waypointStateDir(DEFAULT_NODE_DIR, first);
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const detectMs = milliseconds(flags.protocolDetectionTimeout, '--protocol-detection-timeout');
  const log = rootLogger().child({ component: 'waypoint' });
  const settings = await loadWaypointSettings(flags.config);
  let identity = readIdentity(flags);
  // The spawning daemon passes its store settings as AMBIT_REDIS_* (no password in `ps`).
  const storeOptions = { ...storeOptionsFromEnv(flags.redis ?? process.env.AMBIT_REDIS_URL ?? DEFAULT_REDIS_URL), retryForever: true };
  const store = new Store(createRedis(storeOptions, 'waypoint'), storeOptions);
  await store.redis.connect().catch(() => undefined);
  const watcher = new Watcher(storeOptions);
  const {
    server,
    sequence,
    stop: unwatch,
  } = await startFromStore({
    store,
    watcher,
    identity: () => identity,
    services: flags.service,
    nodeName: flags.nodeName,
    trustDomain: flags.trustDomain,
    domain: flags.domain,
    stateDir: stateDir(flags),
    log,
    server: { protocolDetectionTimeoutMs: detectMs, rateLimitStore: new StoreBuckets(store.redis, store.keys.rateLimitPrefix), tracing: settings.tracing },
  });
  const listen = hostPort(flags.listen, '--listen');
  await server.listen(listen.port, listen.host);
  const m = hostPort(flags.metrics, '--metrics');
  const metrics = createServer(waypointAdminHandler(server)).listen(m.port, m.host);
  log.info({ services: flags.service, listen: flags.listen, principal: identity.principal }, 'waypoint serving');

  process.on('SIGHUP', () => {
    try {
      identity = readIdentity(flags);
      server.hbone.setSecureContext(identity.tls);
      log.info('certificates reloaded');
    } catch (err) {
      log.error({ err }, 'certificate reload failed; keeping the current ones');
    }
    loadWaypointSettings(flags.config).then(
      (s) => server.setFileTracing(s.tracing),
      (err: unknown) => log.error({ err }, 'settings reload failed; keeping the current ones'),
    );
  });
  const stop = async (): Promise<void> => {
    log.info({ drainMs: Number(flags.drainTime) }, 'draining');
    server.drain();
    await new Promise((r) => setTimeout(r, Number(flags.drainTime)));
    unwatch();
    metrics.close();
    await server.close(Number(flags.shutdownGrace));
    await sequence.flushed();
    await watcher.close();
    store.redis.disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  rootLogger().fatal({ err }, (err as Error).message);
  process.exit(1);
});
